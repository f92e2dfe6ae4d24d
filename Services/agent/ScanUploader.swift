import AltoModels
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// Sends a scan batch to `POST /api/v1/scan-results`, retrying network failures with exponential backoff.
struct ScanUploader {
    let settings: AgentSettings
    let logger: Logger

    struct Accepted: Decodable {
        var batchID: UUID
        enum CodingKeys: String, CodingKey { case batchID = "batch_id" }
    }

    func upload(_ csv: String, scanID: UUID, startedAt: Date) async throws -> UUID {
        let batchID = UUID()
        var request = HTTPClientRequest(url: settings.apiURL + "/api/v1/scan-results")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(settings.token)")
        request.headers.add(name: "Content-Type", value: "text/csv")
        request.headers.add(name: "X-Alto-Customer-Id", value: settings.customerID.uuidString)
        request.headers.add(name: "X-Alto-Host-Id", value: settings.hostID.uuidString)
        request.headers.add(name: "X-Alto-Scan-Id", value: scanID.uuidString)
        request.headers.add(name: "X-Alto-Batch-Id", value: batchID.uuidString)
        request.headers.add(name: "X-Alto-Scan-Started-At", value: RFC3339.format(startedAt))
        request.body = .bytes(ByteBuffer(string: csv))
        var delay: Duration = .milliseconds(500)
        for attempt in 1...3 {
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                let body = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .accepted else {
                    throw AgentError("the API refused the batch (\(response.status.code)): \(String(buffer: body))")
                }
                return try AltoJSON.decoder().decode(Accepted.self, from: Data(body.readableBytesView)).batchID
            } catch let error as AgentError {
                throw error
            } catch {
                guard attempt < 3 else { throw error }
                logger.warning("upload failed, retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: delay)
                delay *= 2
            }
        }
        throw AgentError("unreachable")
    }
}
