import AltoModels
import AltoPlanning
import AltoRuntime
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/rules`: a tenant's tiering rules. Each change is checked whole before anything is written (a 400 naming
/// the field otherwise), bumps the rule's version and writes an audit row in the same transaction. Deleting keeps
/// the row (as deleted) so the jobs a rule planned keep their history. `?dry_run=true` on a create or a replace
/// makes every check and write in a transaction it rolls back, and answers with the rule as it would be stored and
/// the what-if of every host's plan with it, so an admin sees what a rule would tier before saving it.
struct RuleController: Sendable {
    let scope: TenantScope
    /// Files smaller than this are never planned (the planner's own setting), so the what-if counts as it does.
    let minimumFileBytes: Int64

    func add(to router: Router<AltoRequestContext>) {
        let rules = router.group("/api/v1/rules")
        rules.post { request, context in try await create(request, context) }
        rules.get { _, context in try await list(context) }
        rules.get(":ruleID") { request, context in try await read(request, context) }
        rules.put(":ruleID") { request, context in try await replace(request, context) }
        rules.post(":ruleID/enable") { request, context in try await setEnabled(true, request, context) }
        rules.post(":ruleID/disable") { request, context in try await setEnabled(false, request, context) }
        rules.delete(":ruleID") { request, context in try await delete(request, context) }
    }

    struct RuleList: Encodable { var rules: [TieringRule] }

    struct Rehearsal: Encodable {
        var rule: TieringRule
        var whatIf: WhatIfReport
        enum CodingKeys: String, CodingKey {
            case rule
            case whatIf = "what_if"
        }
    }

    func create(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        var rule = try await request.decodeJSON(TieringRule.self)
        rule.id = UUID()
        if try request.isDryRun() { return try JSONResponse.make(status: .ok, try await rehearse(rule, context: context, isNew: true)) }
        let stored = try await store(rule, context: context, isNew: true, action: "rule.create")
        return try JSONResponse.make(status: .created, stored)
    }

    func list(_ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let rules = try await scope.run(context) { connection in
            try await RuleRecords.load(customerID: customerID, on: connection, logger: context.logger)
        }
        return try JSONResponse.make(status: .ok, RuleList(rules: rules))
    }

    func read(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let id = try context.parameters.uuid("ruleID")
        let rule = try await scope.run(context) { connection in
            try await RuleRecords.load(id: id, customerID: customerID, on: connection, logger: context.logger)
        }
        guard let rule else { throw Self.notFound(id) }
        return try JSONResponse.make(status: .ok, rule)
    }

    func replace(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        var rule = try await request.decodeJSON(TieringRule.self)
        rule.id = try context.parameters.uuid("ruleID")
        if try request.isDryRun() { return try JSONResponse.make(status: .ok, try await rehearse(rule, context: context, isNew: false)) }
        let stored = try await store(rule, context: context, isNew: false, action: "rule.update")
        return try JSONResponse.make(status: .ok, stored)
    }

    func setEnabled(_ enabled: Bool, _ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let id = try context.parameters.uuid("ruleID")
        let rule = try await scope.run(context) { connection in
            try await RuleRecords.load(id: id, customerID: customerID, on: connection, logger: context.logger)
        }
        guard var rule else { throw Self.notFound(id) }
        rule.enabled = enabled
        let stored = try await store(rule, context: context, isNew: false, action: enabled ? "rule.enable" : "rule.disable")
        return try JSONResponse.make(status: .ok, stored)
    }

    func delete(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let id = try context.parameters.uuid("ruleID")
        let deleted = try await scope.audited(context, action: "rule.delete", target: "rule/\(id)") { connection in
            var found = false
            for try await _ in try await connection.query("""
                UPDATE rules SET deleted_at = now(), enabled = false, version = version + 1, updated_at = now()
                WHERE id = \(id) AND customer_id = \(customerID) AND deleted_at IS NULL RETURNING id
                """, logger: context.logger) {
                found = true
            }
            guard found else { throw Self.notFound(id) }
            return found
        }
        return Response(status: deleted ? .noContent : .notFound)
    }

    /// Checks the rule against itself and the tenant's other rows, then writes it with its audit row.
    private func store(_ rule: TieringRule, context: AltoRequestContext, isNew: Bool, action: String) async throws -> TieringRule {
        try rule.validateForAPI()
        return try await Self.namingConflicts {
            try await scope.audited(context, action: action, target: "rule/\(rule.id)") { connection in
                try await write(rule, customerID: try context.tenant(), isNew: isNew, on: connection, logger: context.logger)
            }
        }
    }

    /// The same checks and write as `store`, rolled back, with the what-if of each of the tenant's hosts as the
    /// rule stood written.
    private func rehearse(_ rule: TieringRule, context: AltoRequestContext, isNew: Bool) async throws -> Rehearsal {
        try rule.validateForAPI()
        let customerID = try context.tenant()
        let logger = context.logger
        let minimumFileBytes = minimumFileBytes
        return try await Self.namingConflicts {
            try await scope.rehearse(context) { connection in
                let stored = try await write(rule, customerID: customerID, isNew: isNew, on: connection, logger: logger)
                let hosts = try await connection.query("SELECT id FROM hosts WHERE customer_id = \(customerID) ORDER BY hostname, id",
                                                       logger: logger).collect().map { try $0.decode(UUID.self) }
                let whatIf = try await WhatIfReport.compute(customerID: customerID, hosts: hosts, minimumFileBytes: minimumFileBytes,
                                                            on: connection, logger: logger)
                return Rehearsal(rule: stored, whatIf: whatIf)
            }
        }
    }

    private func write(_ rule: TieringRule, customerID: UUID, isNew: Bool, on connection: PostgresConnection,
                       logger: Logger) async throws -> TieringRule {
        if !isNew, try await RuleRecords.load(id: rule.id, customerID: customerID, on: connection, logger: logger) == nil {
            throw Self.notFound(rule.id)
        }
        try await checkAgainstOthers(rule, customerID: customerID, on: connection, logger: logger)
        try await RuleRecords.save(rule, customerID: customerID, isNew: isNew, on: connection, logger: logger)
        guard let stored = try await RuleRecords.load(id: rule.id, customerID: customerID, on: connection, logger: logger) else {
            throw Self.notFound(rule.id)
        }
        return stored
    }

    /// Another request took the name or priority between the check and the write.
    private static func namingConflicts<Result>(_ body: () async throws -> sending Result) async throws -> sending Result {
        do {
            return try await body()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            let field = error.serverInfo?[.constraintName] == "rules_live_priority" ? "priority" : "name"
            throw APIError.invalid(field, "is already used by another rule of this customer")
        }
    }

    private func checkAgainstOthers(_ rule: TieringRule, customerID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        var targetExists = false
        for try await _ in try await connection.query("""
            SELECT 1 FROM storage_targets WHERE id = \(rule.targetID) AND customer_id = \(customerID) AND deleted_at IS NULL
            """, logger: logger) {
            targetExists = true
        }
        guard targetExists else {
            throw APIError.invalid("target_id", "storage target \(rule.targetID) does not exist for this customer")
        }
        for try await (name, priority) in try await connection.query("""
            SELECT name, priority FROM rules
            WHERE customer_id = \(customerID) AND deleted_at IS NULL AND id <> \(rule.id)
              AND (priority = \(rule.priority) OR name = \(rule.name))
            """, logger: logger).decode((String, Int).self) {
            if priority == rule.priority {
                throw APIError.invalid("priority", """
                    \(priority) is already the priority of rule "\(name)"; priorities are unique within a customer so \
                    the order rules are evaluated in is never a tie
                    """)
            }
            throw APIError.invalid("name", "a rule named \"\(name)\" already exists")
        }
    }

    static func notFound(_ id: UUID) -> APIError {
        APIError(.notFound, "not_found", "rule \(id) does not exist")
    }
}

extension TieringRule {
    /// The rule's own checks, as a 400 naming the field.
    fileprivate func validateForAPI() throws {
        do {
            try validate()
        } catch {
            throw APIError.invalid(error.field, error.message)
        }
    }
}
