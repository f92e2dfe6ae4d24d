import AltoModels
import AltoTiering
import Foundation
import Glibc
import Logging
import Metrics

/// Every recall the agent makes goes through here, whether a reader opened a stub or a recall job arrived (an admin's
/// `alto-agent recall` is a process of its own, which the guard lets fill stubs itself): throttled per host, counted,
/// ahead of tiering (which waits while recalls run), and one at a time per file: a second reader of a stub being recalled waits for that recall instead of starting another,
/// which would write the same file at the same time.
struct RecallCoordinator: Sendable {
    let catalog: TargetCatalog
    let throttle: RecallThrottle
    let security: SecurityReporter
    let logger: Logger
    private let inFlight = RecallsInFlight()
    private let recalled = Counter(label: "alto_agent_recalls_total", dimensions: [("outcome", "recalled")])
    private let failed = Counter(label: "alto_agent_recalls_total", dimensions: [("outcome", "failed")])
    private let latency = Timer(label: "alto_agent_recall_duration_seconds")

    init(catalog: TargetCatalog, throttle: RecallThrottle, security: SecurityReporter, logger: Logger) {
        self.catalog = catalog
        self.throttle = throttle
        self.security = security
        self.logger = logger
    }

    /// What a reader waiting on a stub is told, and what is reported of it.
    struct ReaderOutcome: Sendable {
        /// The file is whole: the reader goes on.
        var isWhole: Bool
        /// The recall to report; nil when another reader's recall, already reported, made the file whole.
        var report: AgentResult.File?
    }

    /// Fills a stub through a descriptor the on-access driver holds. A file that is no longer a stub (another
    /// reader's recall finished it) lets the reader go on.
    func recallForReader(descriptor: Int32, path: String) async -> ReaderOutcome {
        let (outcome, started) = await shared(descriptor: descriptor, path: path)
        switch outcome {
        case .success: return ReaderOutcome(isWhole: true, report: started ? .recall(of: path, fileID: nil, outcome) : nil)
        case .failure(let error) where error.code == .notAStub: return ReaderOutcome(isWhole: true, report: nil)
        case .failure: return ReaderOutcome(isWhole: false, report: started ? .recall(of: path, fileID: nil, outcome) : nil)
        }
    }

    /// Fills a stub a recall job names, resolved below the managed roots like every path a job names.
    func recall(path: String, fileID: Int64?, within paths: ConfinedPaths) async -> AgentResult.File {
        let descriptor: Int32
        do throws(TieringError) {
            descriptor = try paths.open(path, flags: O_RDWR)
        } catch {
            return .recall(of: path, fileID: fileID, .failure(error))
        }
        defer { close(descriptor) }
        return .recall(of: path, fileID: fileID, await shared(descriptor: descriptor, path: path).outcome)
    }

    /// Waits while recalls are running or waiting, so a user waiting for a file goes ahead of tiering work.
    func yieldToRecalls() async {
        while await throttle.active > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The recall of the file behind `descriptor`, started here or already running; `started` when this call ran it.
    private func shared(descriptor: Int32, path: String) async -> (outcome: Result<StubRecord, TieringError>, started: Bool) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return (.failure(TieringError.io("stat", path)), true) }
        let key = RecallsInFlight.Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else { return (.failure(TieringError.io("duplicate the descriptor of", path)), true) }
        let shared = await inFlight.run(key) {
            defer { close(duplicate) }
            return await admitted(path: path) { () throws(TieringError) in
                try await StubRecall.recall(descriptor: duplicate, path: path, stores: catalog)
            }
        }
        if !shared.started { close(duplicate) }
        return shared
    }

    private func admitted(path: String, _ work: () async throws(TieringError) -> StubRecord) async -> Result<StubRecord, TieringError> {
        await throttle.acquire()
        let started = ContinuousClock.now
        let outcome: Result<StubRecord, TieringError>
        do throws(TieringError) {
            outcome = .success(try await work())
        } catch {
            outcome = .failure(error)
        }
        await throttle.release()
        switch outcome {
        case .success(let record):
            recalled.increment()
            latency.recordInterval(since: started)
            logger.info("file recalled", metadata: ["path": "\(path)", "bytes": "\(record.size)"])
        case .failure(let error) where error.code == .notAStub:
            break
        case .failure(let error):
            failed.increment()
            logger.error("recall failed; the file stays a stub", metadata: ["path": "\(path)", "reason": "\(error.message)"])
            if error.code == .untrustedRecord { security.report(path: path, problem: error.message) }
        }
        return outcome
    }
}

/// The recalls running on this host, one per file, so concurrent opens of one stub share one recall.
actor RecallsInFlight {
    struct Key: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    private var running: [Key: Task<Result<StubRecord, TieringError>, Never>] = [:]

    /// Runs `work` for `key` unless a recall of the same file is running, whose outcome is then returned instead.
    func run(_ key: Key, _ work: @escaping @Sendable () async -> Result<StubRecord, TieringError>)
        async -> (outcome: Result<StubRecord, TieringError>, started: Bool) {
        if let existing = running[key] { return (await existing.value, false) }
        let task = Task { await work() }
        running[key] = task
        let outcome = await task.value
        running[key] = nil
        return (outcome, true)
    }
}

extension Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
