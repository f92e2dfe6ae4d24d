import AltoModels
import AltoRuntime
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// `/api/v1/analytics`: what the dashboard draws. `savings` reads the daily series the actor keeps
/// (`savings_daily`): bytes tiered, recalled and saved per day, and the totals per host and target, from a few
/// rows per host and day rather than the inventory. `inventory` gives a host's live files by age, size,
/// extension and owner in one pass over its rows.
struct AnalyticsController: Sendable {
    let scope: TenantScope

    /// The most days one series request may span, and the extensions and owners listed before the rest are summed.
    static let maximumDays = 3660
    static let topEntries = 20

    func add(to router: Router<AltoRequestContext>) {
        router.get("/api/v1/analytics/savings") { request, context in try await savings(request, context) }
        router.get("/api/v1/analytics/inventory") { request, context in try await inventory(request, context) }
    }

    struct Day: Encodable {
        var day: String
        var filesTiered: Int64
        var bytesTiered: Int64
        var filesRecalled: Int64
        var bytesRecalled: Int64
        /// The day's change.
        var bytesSaved: Int64
        /// Saved bytes at the end of the day: every earlier day's change included.
        var bytesSavedTotal: Int64
        enum CodingKeys: String, CodingKey {
            case day
            case filesTiered = "files_tiered", bytesTiered = "bytes_tiered", filesRecalled = "files_recalled"
            case bytesRecalled = "bytes_recalled", bytesSaved = "bytes_saved", bytesSavedTotal = "bytes_saved_total"
        }
    }

    struct Share: Encodable {
        var id: UUID
        var name: String
        var filesTiered: Int64
        var bytesTiered: Int64
        var bytesSaved: Int64
        enum CodingKeys: String, CodingKey {
            case id, name
            case filesTiered = "files_tiered", bytesTiered = "bytes_tiered", bytesSaved = "bytes_saved"
        }
    }

    struct Savings: Encodable {
        var from: String
        var to: String
        /// Saved bytes at the end of `to`, every earlier day of the series included; with `to` today, what the
        /// `alto_saved_bytes` gauge reports.
        var bytesSaved: Int64
        /// The files and bytes tiered and recalled within the period.
        var filesTiered: Int64
        var bytesTiered: Int64
        var filesRecalled: Int64
        var bytesRecalled: Int64
        var days: [Day]
        var hosts: [Share]
        var targets: [Share]
        enum CodingKeys: String, CodingKey {
            case from, to, days, hosts, targets
            case bytesSaved = "bytes_saved", filesTiered = "files_tiered", bytesTiered = "bytes_tiered"
            case filesRecalled = "files_recalled", bytesRecalled = "bytes_recalled"
        }
    }

    /// `from` and `to` (UTC dates, `to` by default today and `from` 30 days before it), optionally one host's or
    /// one target's rows only.
    func savings(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        let query = request.uri.queryParameters
        let toDate = try Self.day(query.get("to"), name: "to") ?? (try Date(Date().formatted(Self.dayStyle), strategy: Self.dayStyle))
        let fromDate = try Self.day(query.get("from"), name: "from") ?? toDate.addingTimeInterval(-30 * 86400)
        let (from, to) = (fromDate.formatted(Self.dayStyle), toDate.formatted(Self.dayStyle))
        guard fromDate <= toDate else { throw APIError.invalid("from", "must not be after to (\(to))") }
        guard toDate.timeIntervalSince(fromDate) / 86400 <= Double(Self.maximumDays) else {
            throw APIError.invalid("from", "a series spans at most \(Self.maximumDays) days")
        }
        let hostID = try FindingController.uuid(query.get("host_id"), name: "host_id")
        let targetID = try FindingController.uuid(query.get("target_id"), name: "target_id")
        let savings = try await scope.run(context) { connection in
            let filter = SeriesFilter(customerID: customerID, hostID: hostID, targetID: targetID)
            var savings = Savings(from: from, to: to, bytesSaved: 0, filesTiered: 0, bytesTiered: 0, filesRecalled: 0, bytesRecalled: 0,
                                  days: [], hosts: [], targets: [])
            for try await (saved, filesTiered, bytesTiered, filesRecalled, bytesRecalled) in try await connection.query("""
                SELECT coalesce(sum(bytes_saved), 0)::bigint, \(unescaped: Self.inPeriod("files_tiered")), \(unescaped: Self.inPeriod("bytes_tiered")),
                       \(unescaped: Self.inPeriod("files_recalled")), \(unescaped: Self.inPeriod("bytes_recalled"))
                FROM savings_daily, (SELECT \(from)::date AS first, \(to)::date AS last) AS period
                WHERE customer_id = \(filter.customerID) AND (\(filter.hostID)::uuid IS NULL OR host_id = \(filter.hostID))
                  AND (\(filter.targetID)::uuid IS NULL OR target_id = \(filter.targetID)) AND day <= period.last
                """, logger: context.logger).decode((Int64, Int64, Int64, Int64, Int64).self) {
                (savings.bytesSaved, savings.filesTiered, savings.bytesTiered, savings.filesRecalled, savings.bytesRecalled) =
                    (saved, filesTiered, bytesTiered, filesRecalled, bytesRecalled)
            }
            // Every day of the span, those without tiering included, each with the total saved up to it.
            for try await (day, filesTiered, bytesTiered, filesRecalled, bytesRecalled, saved, total) in try await connection.query("""
                WITH matching AS (
                    SELECT day, files_tiered, bytes_tiered, files_recalled, bytes_recalled, bytes_saved FROM savings_daily
                    WHERE customer_id = \(filter.customerID) AND (\(filter.hostID)::uuid IS NULL OR host_id = \(filter.hostID))
                      AND (\(filter.targetID)::uuid IS NULL OR target_id = \(filter.targetID))),
                before AS (SELECT coalesce(sum(bytes_saved), 0) AS saved FROM matching WHERE day < \(from)::date),
                days AS (
                    SELECT span.day::date AS day, coalesce(sum(matching.files_tiered), 0) AS files_tiered,
                           coalesce(sum(matching.bytes_tiered), 0) AS bytes_tiered, coalesce(sum(matching.files_recalled), 0) AS files_recalled,
                           coalesce(sum(matching.bytes_recalled), 0) AS bytes_recalled, coalesce(sum(matching.bytes_saved), 0) AS bytes_saved
                    FROM generate_series(\(from)::date, \(to)::date, interval '1 day') AS span(day)
                    LEFT JOIN matching ON matching.day = span.day::date
                    GROUP BY span.day)
                SELECT to_char(day, 'YYYY-MM-DD'), files_tiered::bigint, bytes_tiered::bigint, files_recalled::bigint, bytes_recalled::bigint,
                       bytes_saved::bigint, ((SELECT saved FROM before) + sum(bytes_saved) OVER (ORDER BY day))::bigint
                FROM days ORDER BY day
                """, logger: context.logger).decode((String, Int64, Int64, Int64, Int64, Int64, Int64).self) {
                savings.days.append(Day(day: day, filesTiered: filesTiered, bytesTiered: bytesTiered, filesRecalled: filesRecalled,
                                        bytesRecalled: bytesRecalled, bytesSaved: saved, bytesSavedTotal: total))
            }
            savings.hosts = try await shares(of: "hosts", name: "hostname", key: "host_id", filter, from: from, to: to, on: connection,
                                             logger: context.logger)
            savings.targets = try await shares(of: "storage_targets", name: "name", key: "target_id", filter, from: from, to: to,
                                               on: connection, logger: context.logger)
            return savings
        }
        return try JSONResponse.make(status: .ok, savings)
    }

    private struct SeriesFilter {
        var customerID: UUID
        var hostID: UUID?
        var targetID: UUID?
    }

    /// A column's sum over the days of the period (`period.first` to `period.last`).
    private static func inPeriod(_ column: String) -> String {
        "coalesce(sum(\(column)) FILTER (WHERE day >= period.first), 0)::bigint"
    }

    /// Per host or per target, largest saving first: what is saved at the period's end, and what was tiered in it.
    private func shares(of table: String, name: String, key: String, _ filter: SeriesFilter, from: String, to: String,
                        on connection: PostgresConnection, logger: Logger) async throws -> [Share] {
        try await connection.query("""
            SELECT owner.id, owner.\(unescaped: name), \(unescaped: Self.inPeriod("series.files_tiered")),
                   \(unescaped: Self.inPeriod("series.bytes_tiered")), sum(series.bytes_saved)::bigint
            FROM savings_daily AS series
            JOIN \(unescaped: table) AS owner ON owner.id = series.\(unescaped: key) AND owner.customer_id = series.customer_id,
                 (SELECT \(from)::date AS first, \(to)::date AS last) AS period
            WHERE series.customer_id = \(filter.customerID) AND (\(filter.hostID)::uuid IS NULL OR series.host_id = \(filter.hostID))
              AND (\(filter.targetID)::uuid IS NULL OR series.target_id = \(filter.targetID)) AND series.day <= period.last
            GROUP BY owner.id, owner.\(unescaped: name) ORDER BY 5 DESC, 2
            """, logger: logger).collect().map {
            let (id, label, files, bytes, saved) = try $0.decode((UUID, String, Int64, Int64, Int64).self)
            return Share(id: id, name: label, filesTiered: files, bytesTiered: bytes, bytesSaved: saved)
        }
    }

    struct Bucket: Encodable {
        var key: String
        var files: Int64
        var bytes: Int64
        var stubbedFiles: Int64
        var stubbedBytes: Int64
        enum CodingKeys: String, CodingKey {
            case key, files, bytes
            case stubbedFiles = "stubbed_files", stubbedBytes = "stubbed_bytes"
        }
    }

    struct Inventory: Encodable {
        var hostID: UUID
        var files: Int64
        var bytes: Int64
        var stubbedFiles: Int64
        var stubbedBytes: Int64
        /// By days since last access (or modification, where access is not kept), oldest last.
        var age: [Bucket]
        /// By size class, smallest first.
        var size: [Bucket]
        /// The largest extensions and owners by bytes, then `(other)` for the rest.
        var extensions: [Bucket]
        var owners: [Bucket]
        enum CodingKeys: String, CodingKey {
            case hostID = "host_id", files, bytes, age, size, extensions, owners
            case stubbedFiles = "stubbed_files", stubbedBytes = "stubbed_bytes"
        }
    }

    /// The lower bound of each age class but the last, in days since a file was last read (or, never read, changed).
    static let ageBoundDays = [30, 90, 180, 365, 730, 1826]
    static let ageClasses = ["0-30 days", "30-90 days", "90-180 days", "180-365 days", "1-2 years", "2-5 years", "over 5 years"]
    static let sizeClasses = ["under 4 KiB", "4-64 KiB", "64 KiB-1 MiB", "1-16 MiB", "16-256 MiB", "256 MiB-1 GiB", "1 GiB and over"]

    /// `host_id` names the host; every class of age and size is listed, empty ones included.
    func inventory(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let customerID = try context.tenant()
        guard let hostID = try FindingController.uuid(request.uri.queryParameters.get("host_id"), name: "host_id") else {
            throw APIError.invalid("host_id", "is required")
        }
        let inventory = try await scope.run(context) { connection in
            let known = try await connection.query("SELECT 1 FROM hosts WHERE id = \(hostID) AND customer_id = \(customerID)",
                                                   logger: context.logger).collect()
            guard !known.isEmpty else { throw APIError(.notFound, "not_found", "host \(hostID) does not exist") }
            var inventory = Inventory(hostID: hostID, files: 0, bytes: 0, stubbedFiles: 0, stubbedBytes: 0, age: [], size: [],
                                      extensions: [], owners: [])
            var age: [Int: Bucket] = [:], size: [Int: Bucket] = [:], extensions: [Bucket] = [], owners: [Bucket] = []
            // One pass over the host's live rows into groups of all four keys at once (a hash aggregate PostgreSQL
            // runs in parallel), then the four distributions as grouping sets of those few groups. The classes are
            // plain comparisons against bounds computed here: per row, a CASE costs a third of width_bucket.
            let now = Date()
            let ageBounds = Self.ageBoundDays.map { now.addingTimeInterval(-Double($0) * 86400) }
            for try await (set, ageClass, sizeClass, label, files, bytes, stubbedFiles, stubbedBytes) in try await connection.query("""
                WITH grouped AS MATERIALIZED (
                    SELECT CASE WHEN seen >= \(ageBounds[0]) THEN 0 WHEN seen >= \(ageBounds[1]) THEN 1 WHEN seen >= \(ageBounds[2]) THEN 2
                                WHEN seen >= \(ageBounds[3]) THEN 3 WHEN seen >= \(ageBounds[4]) THEN 4 WHEN seen >= \(ageBounds[5]) THEN 5
                                ELSE 6 END AS age_class,
                           CASE WHEN file_size < 4096 THEN 0 WHEN file_size < 65536 THEN 1 WHEN file_size < 1048576 THEN 2
                                WHEN file_size < 16777216 THEN 3 WHEN file_size < 268435456 THEN 4 WHEN file_size < 1073741824 THEN 5
                                ELSE 6 END AS size_class,
                           file_extension, owner, count(*) AS files, sum(file_size) AS bytes, count(*) FILTER (WHERE is_stubbed) AS stubbed_files,
                           coalesce(sum(file_size) FILTER (WHERE is_stubbed), 0) AS stubbed_bytes
                    FROM (SELECT coalesce(last_accessed, last_modified) AS seen, file_size, file_extension, owner, is_stubbed
                          FROM file_inventory WHERE customer_id = \(customerID) AND host_id = \(hostID) AND deleted_at IS NULL) AS live
                    GROUP BY 1, 2, 3, 4)
                SELECT CASE WHEN GROUPING(age_class) = 0 THEN 'age' WHEN GROUPING(size_class) = 0 THEN 'size'
                            WHEN GROUPING(file_extension) = 0 THEN 'extension' ELSE 'owner' END,
                       coalesce(age_class, 0), coalesce(size_class, 0), coalesce(file_extension, owner, ''),
                       sum(files)::bigint, sum(bytes)::bigint, sum(stubbed_files)::bigint, sum(stubbed_bytes)::bigint
                FROM grouped GROUP BY GROUPING SETS ((age_class), (size_class), (file_extension), (owner))
                """, logger: context.logger).decode((String, Int, Int, String, Int64, Int64, Int64, Int64).self) {
                let bucket = Bucket(key: label, files: files, bytes: bytes, stubbedFiles: stubbedFiles, stubbedBytes: stubbedBytes)
                switch set {
                case "age":
                    age[ageClass] = bucket
                    inventory.files += files
                    inventory.bytes += bytes
                    inventory.stubbedFiles += stubbedFiles
                    inventory.stubbedBytes += stubbedBytes
                case "size": size[sizeClass] = bucket
                case "extension": extensions.append(bucket)
                default: owners.append(bucket)
                }
            }
            inventory.age = Self.ageClasses.enumerated().map { index, name in Self.named(age[index], name) }
            inventory.size = Self.sizeClasses.enumerated().map { index, name in Self.named(size[index], name) }
            inventory.extensions = Self.largest(extensions, empty: "(none)")
            inventory.owners = Self.largest(owners, empty: "(unknown)")
            return inventory
        }
        return try JSONResponse.make(status: .ok, inventory)
    }

    private static func named(_ bucket: Bucket?, _ name: String) -> Bucket {
        var bucket = bucket ?? Bucket(key: name, files: 0, bytes: 0, stubbedFiles: 0, stubbedBytes: 0)
        bucket.key = name
        return bucket
    }

    /// The `topEntries` largest by bytes, then the rest summed as `(other)`.
    private static func largest(_ buckets: [Bucket], empty: String) -> [Bucket] {
        let sorted = buckets.sorted { ($0.bytes, $1.key) > ($1.bytes, $0.key) }.map { bucket -> Bucket in
            var bucket = bucket
            if bucket.key.isEmpty { bucket.key = empty }
            return bucket
        }
        guard sorted.count > topEntries else { return sorted }
        let rest = sorted[topEntries...]
        return Array(sorted[..<topEntries]) + [Bucket(key: "(other)", files: rest.map(\.files).reduce(0, +), bytes: rest.map(\.bytes).reduce(0, +),
                                                      stubbedFiles: rest.map(\.stubbedFiles).reduce(0, +),
                                                      stubbedBytes: rest.map(\.stubbedBytes).reduce(0, +))]
    }

    /// A UTC date as `YYYY-MM-DD`.
    static let dayStyle = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day()

    private static func day(_ text: String?, name: String) throws -> Date? {
        guard let text else { return nil }
        guard text.count == 10, let date = try? Date(text, strategy: dayStyle), date.formatted(dayStyle) == text else {
            throw APIError.invalid(name, "must be a date as YYYY-MM-DD")
        }
        return date
    }
}
