import AltoModels
import AltoRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// `GET /api/v1/audit`: the tenant's audit trail, newest first, a page at a time (`limit`, `before_seq`), as JSON
/// or as JSON lines (`format=jsonl`) for a SIEM to take in, optionally only the entries whose action starts with
/// `action` (`rule.` for every rule change) or whose actor is `actor`.
struct AuditController: Sendable {
    let scope: TenantScope

    func add(to router: Router<AltoRequestContext>) {
        router.get("/api/v1/audit") { request, context in try await list(request, context) }
    }

    /// A row as this route shows it: its details as an object.
    struct Entry: Encodable {
        var seq: Int64?
        var at: Date
        var actor: String
        var action: String
        var target: String
        var result: String
        var details: [String: String]
        var hash: String?

        init(_ row: AuditRow) {
            let values = (try? JSONSerialization.jsonObject(with: Data(row.details.utf8)) as? [String: Any]) ?? [:]
            (seq, at, actor, action, target, result, hash) = (row.seq, row.at, row.actor, row.action, row.target, row.result, row.hash)
            details = values.mapValues { "\($0)" }
        }
    }

    func list(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let query = request.uri.queryParameters
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...10_000)
        let before = try Self.integer(query.get("before_seq"), name: "before_seq", default: Int.max, range: 1...Int.max)
        let format = query.get("format") ?? "json"
        guard ["json", "jsonl"].contains(format) else { throw APIError.invalid("format", "must be json or jsonl") }
        let action = try Self.text(query.get("action"), name: "action", limit: 200)
        let actor = try Self.text(query.get("actor"), name: "actor", limit: 320)
        let actionPattern = action.map { Self.likePrefix($0) }
        let entries = try await scope.run(context) { connection in
            try await AuditRow.decode(connection.query("""
                SELECT \(unescaped: AuditRow.columns) FROM audit_log
                WHERE customer_id = \(customerID) AND coalesce(seq, 0) < \(Int64(before))
                  AND (\(actionPattern)::text IS NULL OR action LIKE \(actionPattern))
                  AND (\(actor)::text IS NULL OR actor = \(actor))
                ORDER BY seq DESC NULLS LAST, id DESC LIMIT \(limit)
                """, logger: context.logger))
        }.map(Entry.init)
        guard format == "jsonl" else { return try JSONResponse.make(status: .ok, ["entries": entries]) }
        let encoder = AltoJSON.encoder()
        var body = ByteBuffer()
        for entry in entries {
            body.writeBytes(try encoder.encode(entry))
            body.writeString("\n")
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: .init(byteBuffer: body))
    }

    private static func text(_ value: String?, name: String, limit: Int) throws -> String? {
        guard let value, !value.isEmpty else { return nil }
        guard value.utf8.count <= limit, !value.contains("\u{0}") else {
            throw APIError.invalid(name, "must be at most \(limit) bytes with no NUL")
        }
        return value
    }

    /// `value` as a LIKE pattern matching what starts with it, its own `%`, `_` and backslash taken literally.
    private static func likePrefix(_ value: String) -> String {
        var pattern = ""
        for character in value {
            if "%_\\".contains(character) { pattern.append("\\") }
            pattern.append(character)
        }
        return pattern + "%"
    }

    static func integer(_ text: String?, name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.invalid(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
