import AltoModels
import AltoService
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// `GET /api/v1/audit`: the tenant's audit trail, newest first, a page at a time (`limit`, `before_seq`), as JSON
/// or as JSON lines (`format=jsonl`) for a SIEM to take in.
struct AuditController: Sendable {
    let scope: TenantScope

    func add(to router: Router<AltoRequestContext>) {
        router.get("/api/v1/audit") { request, context in try await list(request, context) }
    }

    struct Entry: Encodable {
        var seq: Int64?
        var at: Date
        var actor: String
        var action: String
        var target: String
        var result: String
        var details: [String: String]
        var hash: String?
    }

    func list(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let query = request.uri.queryParameters
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...10_000)
        let before = try Self.integer(query.get("before_seq"), name: "before_seq", default: Int.max, range: 1...Int.max)
        let format = query.get("format") ?? "json"
        guard ["json", "jsonl"].contains(format) else { throw APIError.invalid("format", "must be json or jsonl") }
        let entries = try await scope.run(context) { connection in
            var entries: [Entry] = []
            let rows = try await connection.query("""
                SELECT seq, at, actor, action, target, result, details::text, row_hash FROM audit_log
                WHERE customer_id = \(customerID) AND coalesce(seq, 0) < \(Int64(before))
                ORDER BY seq DESC NULLS LAST, id DESC LIMIT \(limit)
                """, logger: context.logger)
            for try await (seq, at, actor, action, target, result, details, hash) in rows.decode(
                (Int64?, Date, String, String, String, String, String, ByteBuffer?).self) {
                let values = (try? JSONSerialization.jsonObject(with: Data(details.utf8)) as? [String: Any]) ?? [:]
                entries.append(Entry(seq: seq, at: at, actor: actor, action: action, target: target, result: result,
                                     details: values.mapValues { "\($0)" },
                                     hash: hash.map { Data(Array(buffer: $0)).base64EncodedString() }))
            }
            return entries
        }
        guard format == "jsonl" else { return try JSONResponse.make(status: .ok, ["entries": entries]) }
        let encoder = AltoJSON.encoder()
        var body = ByteBuffer()
        for entry in entries {
            body.writeBytes(try encoder.encode(entry))
            body.writeString("\n")
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: .init(byteBuffer: body))
    }

    static func integer(_ text: String?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.invalid(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
