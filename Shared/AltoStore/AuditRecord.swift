import Foundation

/// One entry of the audit trail: who did what to which object, and how it ended.
public struct AuditRecord: Sendable, Equatable {
    /// `user:<email>`, `token:<id>`, `agent:<host id>`, `admin-token`, or a service name.
    public var actor: String
    /// What was done, as `<object>.<verb>`: `rule.create`, `session.login`, `file.tier`.
    public var action: String
    /// The object acted on: `rule/<id>`, a file path, an email address.
    public var target: String
    /// `ok`, `denied`, `failed`, or an outcome such as `tiered`.
    public var result: String
    /// More about it, as a JSON object; never a secret.
    public var detailsJSON: String

    public init(actor: String, action: String, target: String, result: String = "ok", details: [String: String?] = [:]) {
        self.actor = actor
        self.action = action
        self.target = target
        self.result = result
        let kept = details.compactMapValues { $0 }
        let data = (try? JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys])) ?? Data("{}".utf8)
        self.detailsJSON = String(decoding: data, as: UTF8.self)
    }
}
