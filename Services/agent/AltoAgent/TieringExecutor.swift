import AltoModels
import AltoTiering
import Foundation
import Logging
import Metrics
import Synchronization

/// Runs one tiering job on this host: its files in parallel up to the configured limit, each through a
/// `FileTierer` to the job's target at the target's bandwidth cap, recalls first, results reported as they come.
struct TieringExecutor: Sendable {
    let settings: AgentSettings
    let configurationStore: AgentConfigurationStore
    let catalog: TargetCatalog
    let coordinator: RecallCoordinator
    let reporter: ResultReporter
    let logger: Logger
    private let limiters = BandwidthLimiters()
    private let bytesTiered = Counter(label: "alto_agent_bytes_tiered_total")
    /// Outcomes are reported in batches of this many, so the actor shows a long job's progress.
    static let reportEvery = 250

    init(settings: AgentSettings, configurationStore: AgentConfigurationStore, catalog: TargetCatalog,
         coordinator: RecallCoordinator, reporter: ResultReporter, logger: Logger) {
        self.settings = settings
        self.configurationStore = configurationStore
        self.catalog = catalog
        self.coordinator = coordinator
        self.reporter = reporter
        self.logger = logger
    }

    /// Tiers the job's files and returns every outcome; a file deferred because the tier is unavailable stops the
    /// job from starting more, and the rest are reported deferred too, so the actor puts the job back.
    func run(_ job: TieringJob, correlationID: UUID) async throws -> AgentResult {
        try catalog.remember(job.target)
        let configuration = try? configurationStore.load()
        let store: any TierStore
        do {
            store = try await catalog.store(for: job.target)
        } catch {
            return finished(job, job.files.map { failure($0, error) })
        }
        var options = FileTierer.Options()
        do {
            // One data key per job: every copy it makes is sealed with it, each with a nonce of its own.
            options.sealing = try await catalog.sealing()
        } catch {
            return finished(job, job.files.map { failure($0, error) })
        }
        options.compress = job.target.compression == "zstd"
        options.previewBytes = settings.previewBytes
        guard let roots = await guardedRoots() else {
            let reason = "no stub guard is watching this host's managed roots, and a stub no guard watches reads as zeros; "
                + "the job waits for `alto-agent guard`"
            logger.error("tiering refused: no stub guard", metadata: ["job": "\(job.jobID)"])
            return finished(job, job.files.map { failure($0, .deferred, reason, code: "no_stub_guard") })
        }
        let tierer = FileTierer(store: store, target: job.target, customerID: settings.customerID, hostID: settings.hostID,
                                paths: ConfinedPaths(roots: roots), options: options, limiter: limiter(for: job, configuration: configuration))
        let parallel = max(1, configuration?.maxConcurrentFiles ?? settings.parallelFiles)
        reporter.report(AgentResult(jobID: job.jobID, action: .tier, targetID: job.target.id, files: []), replyingTo: correlationID)

        var outcomes: [AgentResult.File] = []
        var unreported: [AgentResult.File] = []
        var unavailable: String?
        await withTaskGroup(of: AgentResult.File.self) { group in
            var next = 0
            var inFlight = 0
            func settle(_ outcome: AgentResult.File) {
                inFlight -= 1
                log(outcome)
                if outcome.outcome == .deferred, unavailable == nil { unavailable = outcome.reason }
                outcomes.append(outcome)
                unreported.append(outcome)
            }
            while next < job.files.count {
                if inFlight == parallel, let outcome = await group.next() { settle(outcome) }
                if unreported.count >= Self.reportEvery {
                    reporter.report(AgentResult(jobID: job.jobID, action: .tier, targetID: job.target.id, files: unreported),
                                          replyingTo: correlationID)
                    unreported.removeAll()
                }
                if let unavailable {
                    let rest = job.files[next...].map { failure($0, .deferred, "not attempted: \(unavailable)", code: "storage_unavailable") }
                    outcomes += rest
                    unreported += rest
                    break
                }
                await coordinator.yieldToRecalls()
                let file = job.files[next]
                next += 1
                inFlight += 1
                group.addTask { await tierer.tier(file) }
            }
            while let outcome = await group.next() { settle(outcome) }
        }
        if !unreported.isEmpty || outcomes.isEmpty {
            reporter.report(AgentResult(jobID: job.jobID, action: .tier, targetID: job.target.id, files: unreported),
                                  replyingTo: correlationID)
        }
        return finished(job, outcomes)
    }

    /// The roots where stubs may be made: those the connected guard marks (a stub is made under a write lease, and
    /// the agent must hold the guard's group to leave the file out of the watch for the punch), waiting a little for
    /// a guard that is starting; nil when none answers. With `unguardedStubs`, the managed roots.
    private func guardedRoots() async -> [String]? {
        if settings.unguardedStubs { return settings.managedRoots(configurationStore) }
        let deadline = ContinuousClock.now + .seconds(15)
        while !OnAccessWatch.isActive && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let roots = OnAccessWatch.guardedRoots
        return roots.isEmpty ? nil : roots
    }

    private func finished(_ job: TieringJob, _ outcomes: [AgentResult.File]) -> AgentResult {
        AgentResult(jobID: job.jobID, action: .tier, targetID: job.target.id, files: outcomes)
    }

    private func failure(_ file: TieringJob.File, _ outcome: AgentResult.Outcome, _ reason: String, code: String) -> AgentResult.File {
        var failed = AgentResult.File(fileID: file.fileID, filePath: file.filePath, outcome: outcome, reason: reason, size: file.fileSize)
        failed.reasonCode = code
        return failed
    }

    private func failure(_ file: TieringJob.File, _ error: TieringError) -> AgentResult.File {
        failure(file, error.code == .storageUnavailable ? .deferred : .failed, error.message, code: error.code.reasonCode)
    }

    private func log(_ outcome: AgentResult.File) {
        Counter(label: "alto_agent_tiering_files_total",
                dimensions: [("outcome", outcome.outcome.rawValue), ("reason", outcome.reasonLabel)]).increment()
        if outcome.outcome == .tiered {
            bytesTiered.increment(by: Int(outcome.size))
            logger.debug("file tiered", metadata: ["path": "\(outcome.filePath)"])
        } else {
            logger.info("file \(outcome.outcome.rawValue)", metadata: ["path": "\(outcome.filePath)", "reason": "\(outcome.reason ?? "")"])
        }
    }

    /// One bucket per target, shared by every job to it; the job's cap (the target's) or the host's, whichever is lower.
    private func limiter(for job: TieringJob, configuration: AgentConfiguration?) -> BandwidthLimiter? {
        let caps = [job.bandwidthBytesPerSecond, configuration?.bandwidthBytesPerSecond].compactMap { $0 }.filter { $0 > 0 }
        guard let cap = caps.min() else { return nil }
        return limiters.limiter(for: job.target.id, bytesPerSecond: cap)
    }
}

/// The agent's one bandwidth bucket per target.
final class BandwidthLimiters: Sendable {
    private let limiters = Mutex<[UUID: BandwidthLimiter]>([:])

    func limiter(for targetID: UUID, bytesPerSecond: Int64) -> BandwidthLimiter {
        limiters.withLock { limiters in
            if let existing = limiters[targetID], existing.bytesPerSecond == bytesPerSecond { return existing }
            let limiter = BandwidthLimiter(bytesPerSecond: bytesPerSecond)
            limiters[targetID] = limiter
            return limiter
        }
    }
}
