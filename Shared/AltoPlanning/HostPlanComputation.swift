import AltoModels
import Foundation
import Logging
import PostgresNIO

/// Evaluates one host's inventory against its tenant's rules and selects what a plan takes, without writing
/// anything: the planner turns the result into jobs, a what-if plan into a report.
///
/// The inventory is read through one streaming query (rows are decoded and dropped as they come; what stays is a
/// few bytes per matched file, and its path, time and hash when the plan keeps them for its jobs);
/// what SQL filters cheaply (stubs, deleted files, files in an open job, sizes, ages and extension lists that every
/// active rule asks for) never leaves the database; globs and regular expressions run here, compiled once.
public struct HostPlanComputation: Sendable {
    public var customerID: UUID
    public var hostID: UUID
    public var now: Date
    /// Files smaller than this are never planned: their stub would save nothing.
    public var minimumFileBytes: Int64
    public var caps: PlanSelection.RunCaps
    /// Collects bytes per directory for what-if reports.
    public var collectDirectories: Bool
    /// Keeps what a job needs of each matched file (``Result/details``), for a plan that makes jobs.
    public var keepsFileDetails: Bool

    public init(customerID: UUID, hostID: UUID, now: Date = Date(), minimumFileBytes: Int64,
                caps: PlanSelection.RunCaps = .init(), collectDirectories: Bool = false, keepsFileDetails: Bool = false) {
        self.customerID = customerID
        self.hostID = hostID
        self.now = now
        self.minimumFileBytes = minimumFileBytes
        self.caps = caps
        self.collectDirectories = collectDirectories
        self.keepsFileDetails = keepsFileDetails
    }

    /// The outcome of one computation.
    public struct Result: Sendable {
        public var outcomes: [RuleOutcome]
        public var targets: [UUID: PlanTarget]
        /// The matched files' details, when the computation keeps them.
        public var details = PlanFileDetails()
        public var filesEvaluated = 0
        public var evaluationSeconds = 0.0
        /// Paths on which a rule's regular expression gave up at its limits (not tiered by that rule).
        public var regexLimitsExceeded = 0
    }

    /// The tenant's rules made ready for this moment and this host: schedule windows settled, watermark rules
    /// pointed at the volumes above their high watermark. `hotVolumes` numbers those volumes for selection.
    public func makeEvaluator(on connection: PostgresConnection, logger: Logger) async throws
        -> (evaluator: RuleEvaluator, hotVolumes: [ManagedVolume]) {
        let rules = try await RuleRecords.load(customerID: customerID, on: connection, logger: logger)
        let volumes = try await Self.loadVolumes(customerID: customerID, hostID: hostID, on: connection, logger: logger)
        var watermarkVolumes: [UUID: [String]] = [:]
        var hotVolumes: [ManagedVolume] = []
        for rule in rules where rule.enabled {
            guard let watermark = rule.watermark else { continue }
            let over = volumes.filter { $0.usedPercent > watermark.highPercent }
            watermarkVolumes[rule.id] = over.map(\.mountPoint)
            for volume in over where !hotVolumes.contains(volume) { hotVolumes.append(volume) }
        }
        return (try RuleEvaluator(rules: rules, now: now, watermarkVolumes: watermarkVolumes), hotVolumes)
    }

    public func run(on connection: PostgresConnection, logger: Logger) async throws -> Result {
        let (evaluator, hotVolumes) = try await makeEvaluator(on: connection, logger: logger)
        let targets = try await PlanTarget.load(customerID: customerID, on: connection, logger: logger)
        var result = Result(outcomes: evaluator.rules.map(RuleOutcome.init), targets: targets)
        guard let query = try candidateQuery(evaluator) else { return result }

        var matched = [[PlanCandidate]](repeating: [], count: evaluator.rules.count)
        let started = ContinuousClock.now
        var rows = try await connection.query(query, logger: logger).makeAsyncIterator()
        // Rows are decoded a batch at a time while a child task runs the rules over the batch before: the two took
        // about the same time, one after the other, on one core.
        var batch = try await Self.nextBatch(&rows, hashes: keepsFileDetails)
        while !batch.isEmpty {
            let evaluated = batch
            async let verdicts = Self.firstMatches(evaluated, evaluator: evaluator, hotVolumes: hotVolumes)
            let next = try await Self.nextBatch(&rows, hashes: keepsFileDetails)
            for verdict in await verdicts {
                let (file, hash) = evaluated[verdict.row]
                let lastUsed = max(file.lastModified.timeIntervalSince1970, file.lastAccessed?.timeIntervalSince1970 ?? -.infinity)
                let detail = keepsFileDetails ? result.details.append(path: file.path, lastModified: file.lastModified, hash: hash) : -1
                matched[verdict.rule].append(PlanCandidate(fileID: file.id, size: file.size, lastUsed: lastUsed,
                                                           volume: verdict.volume, detail: detail))
                result.outcomes[verdict.rule].matchedFiles += 1
                result.outcomes[verdict.rule].matchedBytes += file.size
                if collectDirectories {
                    result.outcomes[verdict.rule].directoryBytes[Self.parentDirectory(of: file.path), default: 0] += file.size
                }
            }
            result.filesEvaluated += evaluated.count
            batch = next
        }
        var taken = PlanSelection.select(rules: evaluator.rules, matched: matched, volumes: hotVolumes, caps: caps)
        if keepsFileDetails, taken.reduce(0, { $0 + $1.candidates.count }) < result.details.count {
            var candidates = taken.map(\.candidates)
            result.details = result.details.keeping(&candidates)
            for index in taken.indices { taken[index].candidates = candidates[index] }
        }
        for index in taken.indices { result.outcomes[index].taken = taken[index] }
        result.evaluationSeconds = (ContinuousClock.now - started) / .seconds(1)
        result.regexLimitsExceeded = evaluator.regexLimitsExceeded
        return result
    }

    typealias Candidate = (file: InventoryFile, hash: ByteBuffer?)

    /// Rows decoded per batch: enough that handing a batch over costs nothing beside it, few enough that two of
    /// them are a few megabytes.
    static let rowsPerBatch = 4096

    static func nextBatch(_ rows: inout PostgresRowSequence.AsyncIterator, hashes: Bool) async throws -> [Candidate] {
        var batch: [Candidate] = []
        batch.reserveCapacity(rowsPerBatch)
        while batch.count < rowsPerBatch, let row = try await rows.next() {
            batch.append(try candidate(row, hash: hashes))
        }
        return batch
    }

    /// A file of a batch that a rule matched: the rule's index and the file's volume among those above a watermark.
    struct Verdict: Sendable {
        var row: Int
        var rule: Int
        var volume: Int32
    }

    static func firstMatches(_ batch: [Candidate], evaluator: RuleEvaluator, hotVolumes: [ManagedVolume]) -> [Verdict] {
        var verdicts: [Verdict] = []
        for row in batch.indices {
            guard let rule = evaluator.firstMatch(batch[row].file) else { continue }
            var volume: Int32 = -1
            if !hotVolumes.isEmpty, let hot = ManagedVolume.volume(of: batch[row].file.path, among: hotVolumes) {
                volume = Int32(hotVolumes.firstIndex(of: hot)!)
            }
            verdicts.append(Verdict(row: row, rule: rule, volume: volume))
        }
        return verdicts
    }

    /// One row of the candidate query, and the file's hash as its bytes when the query reads it, decoded cell by
    /// cell: decoding the columns as one tuple looked the tuple's type up in the runtime's metadata cache for every
    /// row, a third of the time the read took.
    static func candidate(_ row: PostgresRow, hash: Bool) throws -> Candidate {
        var cells = row.makeIterator()
        func next<Value: PostgresDecodable>(_: Value.Type) throws -> Value {
            guard let cell = cells.next() else { throw CandidateRowError() }
            return try cell.decode(Value.self, context: .default)
        }
        let file = InventoryFile(id: try next(Int64.self), path: try next(String.self), size: try next(Int64.self),
                                 lastModified: try next(Date.self), lastAccessed: try next(Date?.self),
                                 fileExtension: try next(String.self), isStubbed: false)
        return (file, hash ? try next(ByteBuffer?.self) : nil)
    }

    /// The candidate query returned fewer columns than it names.
    struct CandidateRowError: Error {}

    /// A host's managed volumes as its last heartbeat reported them.
    public static func loadVolumes(customerID: UUID, hostID: UUID, on connection: PostgresConnection,
                                   logger: Logger) async throws -> [ManagedVolume] {
        var volumes: [ManagedVolume] = []
        let rows = try await connection.query("""
            SELECT mount_point, total_bytes, used_bytes FROM host_volumes
            WHERE customer_id = \(customerID) AND host_id = \(hostID)
            """, logger: logger)
        for try await (mountPoint, total, used) in rows.decode((String, Int64, Int64).self) {
            volumes.append(ManagedVolume(mountPoint: mountPoint, totalBytes: total, usedBytes: used))
        }
        return volumes
    }

    /// The inventory query with every filter SQL can apply cheaply; nil when no rule can match anything now.
    func candidateQuery(_ evaluator: RuleEvaluator) throws -> PostgresQuery? {
        let prefilters = evaluator.prefilters
        guard !prefilters.isEmpty else { return nil }
        var binds = PostgresBindings()
        func bind(_ value: some PostgresEncodable & Sendable) throws -> String {
            try binds.append(value)
            return "$\(binds.count)"
        }
        var conditions = ["customer_id = \(try bind(customerID))", "host_id = \(try bind(hostID))", "NOT is_stubbed",
                          "deleted_at IS NULL", "file_size >= \(try bind(minimumFileBytes))"]
        var alternatives: [String] = []
        for prefilter in prefilters {
            guard !prefilter.isEmpty else {
                alternatives = []
                break
            }
            var parts: [String] = []
            if let minSize = prefilter.minSize { parts.append("file_size >= \(try bind(minSize))") }
            if let maxSize = prefilter.maxSize { parts.append("file_size <= \(try bind(maxSize))") }
            if let before = prefilter.modifiedBefore { parts.append("last_modified < \(try bind(before))") }
            if let before = prefilter.accessedBefore {
                parts.append("(last_accessed IS NULL OR last_accessed < \(try bind(before)))")
            }
            if !prefilter.extensions.isEmpty { parts.append("file_extension = ANY(\(try bind(prefilter.extensions)))") }
            alternatives.append("(" + parts.joined(separator: " AND ") + ")")
        }
        if !alternatives.isEmpty { conditions.append("(" + alternatives.joined(separator: " OR ") + ")") }
        let sql = """
            SELECT id, file_path, file_size, last_modified, last_accessed, file_extension\(keepsFileDetails ? ", hash" : "")
            FROM file_inventory AS inventory
            WHERE \(conditions.joined(separator: " AND "))
              AND NOT EXISTS (
                  SELECT 1 FROM tiering_job_files AS job_file JOIN tiering_jobs AS job ON job.id = job_file.job_id
                  WHERE job_file.file_id = inventory.id AND job_file.state = 'pending'
                    AND job.state IN ('queued', 'dispatched', 'running', 'held'))
            """
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    static func parentDirectory(of path: String) -> String {
        guard let separator = path.utf8.lastIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }) else { return "" }
        let parent = String(path[..<separator])
        return parent.isEmpty ? String(path[...separator]) : parent
    }
}
