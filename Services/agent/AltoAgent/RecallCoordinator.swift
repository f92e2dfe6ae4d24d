import AltoModels
import AltoTiering
import Foundation
import Logging
import Metrics

/// Every recall on this host goes through here, whether a reader opened a stub, a recall job arrived, or an admin
/// ran `alto-agent recall`: throttled per host, counted, and ahead of tiering, which waits while recalls run.
struct RecallCoordinator: Sendable {
    let catalog: TargetCatalog
    let throttle: RecallThrottle
    let logger: Logger
    private let recalled = Counter(label: "alto_agent_files_total", dimensions: [("outcome", "recalled")])
    private let failed = Counter(label: "alto_agent_recall_failures_total")
    private let latency = Timer(label: "alto_agent_recall_seconds")

    init(catalog: TargetCatalog, throttle: RecallThrottle, logger: Logger) {
        self.catalog = catalog
        self.throttle = throttle
        self.logger = logger
    }

    /// Fills a stub through a descriptor the on-access driver holds.
    func recall(descriptor: Int32, path: String, fileID: Int64? = nil) async -> AgentResult.File {
        await admitted(path: path, fileID: fileID) { () throws(TieringError) in
            try await StubRecall.recall(descriptor: descriptor, path: path, stores: catalog)
        }
    }

    /// Fills a stub by its path, for recalls no reader asked for.
    func recall(path: String, fileID: Int64? = nil) async -> AgentResult.File {
        await admitted(path: path, fileID: fileID) { () throws(TieringError) in
            try await StubRecall.recall(path: path, stores: catalog)
        }
    }

    /// Waits while recalls are running or waiting, so a user waiting for a file goes ahead of tiering work.
    func yieldToRecalls() async {
        while await throttle.active > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func admitted(path: String, fileID: Int64?, _ work: () async throws(TieringError) -> StubRecord) async -> AgentResult.File {
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
        case .failure(let error):
            failed.increment()
            logger.error("recall failed; the file stays a stub", metadata: ["path": "\(path)", "reason": "\(error.message)"])
        }
        return .recall(of: path, fileID: fileID, outcome)
    }
}

extension Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
