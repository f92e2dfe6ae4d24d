import AsyncHTTPClient
import Foundation
import NIOCore

/// The HTTP conversation object-store tiers share: what a failure means for the job (a 5xx, a 429 or a broken
/// connection is worth a retry, a 404 is a copy that is gone; any other refusal is the target's configuration), control answers read whole, and
/// copies streamed to a sink as they arrive.
enum ObjectStoreHTTP {
    static func execute(_ request: HTTPClientRequest, describing what: String) async throws(TieringError) -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .minutes(5))
        } catch {
            throw TieringError(.transient, "\(what) failed: \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            let text = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
            let code: TieringError.Code = switch response.status.code {
            case 404: .notFound
            case 429, 500...: .transient
            default: .rejected
            }
            throw TieringError(code, "\(what) answered \(response.status.code): \(text.prefix(300))")
        }
        return response
    }

    /// The whole answer to a control request or a listing (at most `limit`, 1 MiB unless said).
    static func body(of response: HTTPClientResponse, describing what: String, upTo limit: Int = 1 << 20) async throws(TieringError) -> [UInt8] {
        do {
            return Array(buffer: try await response.body.collect(upTo: limit))
        } catch {
            throw TieringError(.transient, "reading the answer to \(what): \(error)")
        }
    }

    static func stream(_ response: HTTPClientResponse, into sink: any TierSink, describing what: String) async throws(TieringError) {
        do {
            for try await chunk in response.body {
                let failure = chunk.withUnsafeReadableBytes { bytes -> TieringError? in
                    do throws(TieringError) { try sink.receive(bytes) } catch { return error }
                    return nil
                }
                if let failure { throw failure }
            }
        } catch let error as TieringError {
            throw error
        } catch {
            throw TieringError(.transient, "reading \(what) failed: \(error)")
        }
    }
}
