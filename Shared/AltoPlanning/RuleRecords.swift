import AltoModels
import Foundation
import Logging
import PostgresNIO

/// Reads and writes `rules` rows as ``TieringRule`` values; the API's rule routes and the planner share it so a
/// column means the same thing to both.
public enum RuleRecords {
    static let columns = """
        id, name, priority, enabled, path_globs, path_regex, case_sensitive, min_days_since_modified,
        min_days_since_accessed, min_size, max_size, include_extensions, exclude_extensions, target_id, candidate_order,
        max_files_per_run, max_bytes_per_run, schedule::text, watermark_high_percent, watermark_low_percent, version
        """

    /// The tenant's live rules (enabled or not), in evaluation order.
    public static func load(customerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [TieringRule] {
        try await decode(connection.query(PostgresQuery(unsafeSQL: """
            SELECT \(columns) FROM rules WHERE customer_id = $1 AND deleted_at IS NULL ORDER BY priority, name
            """, binds: bindings(customerID)), logger: logger))
    }

    /// One live rule of the tenant, or nil.
    public static func load(id: UUID, customerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> TieringRule? {
        try await decode(connection.query(PostgresQuery(unsafeSQL: """
            SELECT \(columns) FROM rules WHERE customer_id = $1 AND id = $2 AND deleted_at IS NULL
            """, binds: bindings(customerID, id)), logger: logger)).first
    }

    /// Inserts a new rule, or replaces a live one and bumps its version; returns the stored version.
    @discardableResult
    public static func save(_ rule: TieringRule, customerID: UUID, isNew: Bool, on connection: PostgresConnection,
                            logger: Logger) async throws -> Int {
        let schedule = try rule.schedule.map { String(decoding: try AltoJSON.encoder().encode($0), as: UTF8.self) }
        var binds = PostgresBindings()
        binds.append(rule.id)
        binds.append(customerID)
        binds.append(rule.name)
        binds.append(rule.priority)
        binds.append(rule.enabled)
        binds.append(rule.pathGlobs)
        binds.append(rule.pathRegex)
        binds.append(rule.caseSensitive)
        binds.append(rule.minDaysSinceModified)
        binds.append(rule.minDaysSinceAccessed)
        binds.append(rule.minSize)
        binds.append(rule.maxSize)
        binds.append(rule.includeExtensions.map(RuleEvaluator.normalizedExtension))
        binds.append(rule.excludeExtensions.map(RuleEvaluator.normalizedExtension))
        binds.append(rule.targetID)
        binds.append(rule.candidateOrder.rawValue)
        binds.append(rule.maxFilesPerRun)
        binds.append(rule.maxBytesPerRun)
        binds.append(schedule)
        binds.append(rule.watermark?.highPercent)
        binds.append(rule.watermark?.lowPercent)
        let sql = isNew ? """
            INSERT INTO rules (id, customer_id, name, priority, enabled, path_globs, path_regex, case_sensitive,
                min_days_since_modified, min_days_since_accessed, min_size, max_size, include_extensions,
                exclude_extensions, target_id, candidate_order, max_files_per_run, max_bytes_per_run, schedule,
                watermark_high_percent, watermark_low_percent)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19::jsonb, $20, $21)
            RETURNING version
            """ : """
            UPDATE rules SET name = $3, priority = $4, enabled = $5, path_globs = $6, path_regex = $7,
                case_sensitive = $8, min_days_since_modified = $9, min_days_since_accessed = $10, min_size = $11,
                max_size = $12, include_extensions = $13, exclude_extensions = $14, target_id = $15,
                candidate_order = $16, max_files_per_run = $17, max_bytes_per_run = $18, schedule = $19::jsonb,
                watermark_high_percent = $20, watermark_low_percent = $21, version = version + 1, updated_at = now()
            WHERE id = $1 AND customer_id = $2 AND deleted_at IS NULL
            RETURNING version
            """
        for try await version in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            .decode(Int.self) {
            return version
        }
        throw RuleProblem(field: "id", message: "rule \(rule.id) does not exist")
    }

    static func bindings(_ values: UUID...) -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { binds.append(value) }
        return binds
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [TieringRule] {
        var rules: [TieringRule] = []
        for try await row in rows {
            let columns = row.makeRandomAccess()
            let schedule = try columns[17].decode(String?.self).map {
                try AltoJSON.decoder().decode(ScheduleWindow.self, from: Data($0.utf8))
            }
            let high = try columns[18].decode(Double?.self)
            let low = try columns[19].decode(Double?.self)
            rules.append(TieringRule(
                id: try columns[0].decode(UUID.self), name: try columns[1].decode(String.self),
                priority: try columns[2].decode(Int.self), enabled: try columns[3].decode(Bool.self),
                pathGlobs: try columns[4].decode([String].self), pathRegex: try columns[5].decode(String?.self),
                caseSensitive: try columns[6].decode(Bool?.self), minDaysSinceModified: try columns[7].decode(Int?.self),
                minDaysSinceAccessed: try columns[8].decode(Int?.self), minSize: try columns[9].decode(Int64?.self),
                maxSize: try columns[10].decode(Int64?.self), includeExtensions: try columns[11].decode([String].self),
                excludeExtensions: try columns[12].decode([String].self), targetID: try columns[13].decode(UUID.self),
                candidateOrder: TieringRule.CandidateOrder(rawValue: try columns[14].decode(String.self)) ?? .coldest,
                maxFilesPerRun: try columns[15].decode(Int?.self), maxBytesPerRun: try columns[16].decode(Int64?.self),
                schedule: schedule,
                watermark: high.flatMap { high in low.map { Watermark(highPercent: high, lowPercent: $0) } },
                version: try columns[20].decode(Int.self)))
        }
        return rules
    }
}
