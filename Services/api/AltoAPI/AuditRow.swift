import AltoModels
import Foundation
import Logging
import PostgresNIO

/// One row of the audit trail as it leaves Alto: through `GET /api/v1/audit`, as a JSON line, or as an RFC 5424
/// syslog message whose structured data carries the fields and the row's chain hash, so the SIEM holds what
/// `audit verify` checks.
struct AuditRow: Encodable {
    var id: Int64
    var customerID: UUID?
    var seq: Int64?
    var at: Date
    var actor: String
    var action: String
    var target: String
    var result: String
    var details: String
    var hash: String?

    enum CodingKeys: String, CodingKey {
        case id, seq, at, actor, action, target, result, details, hash
        case customerID = "customer_id"
    }

    /// The columns `decode` reads, for a query's select list.
    static let columns = "id, customer_id, seq, at, actor, action, target, result, details::text, row_hash"

    /// Rows after `after` (by id), of one tenant or of all, in the order they were written: what an export sends.
    static func load(customerID: UUID?, after: Int64, on connection: PostgresConnection, logger: Logger) async throws -> [AuditRow] {
        try await decode(connection.query("""
            SELECT \(unescaped: columns) FROM audit_log
            WHERE id > \(after) AND (\(customerID)::uuid IS NULL OR customer_id = \(customerID))
            ORDER BY id
            """, logger: logger))
    }

    static func decode(_ result: PostgresRowSequence) async throws -> [AuditRow] {
        var rows: [AuditRow] = []
        for try await (id, customer, seq, at, actor, action, target, outcome, details, hash) in result.decode(
            (Int64, UUID?, Int64?, Date, String, String, String, String, String, ByteBuffer?).self) {
            rows.append(AuditRow(id: id, customerID: customer, seq: seq, at: at, actor: actor, action: action, target: target,
                                 result: outcome, details: details,
                                 hash: hash.map { Data(Array(buffer: $0)).base64EncodedString() }))
        }
        return rows
    }

    /// `<110>1 TIME HOST alto-api - audit [alto@32473 ...] action target: result`: facility security (13),
    /// severity informational; 32473 is the private enterprise number RFC 5612 sets aside for examples.
    func syslogMessage(hostname: String = ProcessInfo.processInfo.hostName) -> String {
        let params: [(String, String)] = [
            ("id", String(id)), ("tenant", customerID?.uuidString.lowercased() ?? "provider"), ("seq", seq.map(String.init) ?? "-"),
            ("actor", actor), ("action", action), ("target", target), ("result", result), ("hash", hash ?? "-"),
        ]
        let data = params.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: " ")
        let host = hostname.isEmpty ? "-" : String(hostname.filter { $0.isASCII && !$0.isWhitespace }.prefix(255))
        return "<110>1 \(RFC3339.format(at)) \(host) alto-api - audit [alto@32473 \(data)] \(action) \(target): \(result)"
    }

    /// RFC 5424 section 6.3.3: `"`, `\` and `]` are escaped in parameter values.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            if character == "\"" || character == "\\" || character == "]" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
