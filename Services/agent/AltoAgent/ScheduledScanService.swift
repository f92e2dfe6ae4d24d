import AltoModels
import Foundation
import Logging
import ServiceLifecycle

/// The agent's own scans: a full scan of its managed roots every interval (from the configuration the central
/// suite pushed, else from `ALTO_AGENT_SCAN_ROOTS` and `ALTO_AGENT_SCAN_INTERVAL_SECONDS`), uploaded batch by batch.
/// Batches the API did not take stay in the spool and are tried again every `ALTO_AGENT_UPLOAD_RETRY_SECONDS`;
/// the time of the last finished scan is kept on disk, so a restart neither rescans early nor loses the spool.
struct ScheduledScanService: Service {
    let settings: AgentSettings
    let configurationStore: AgentConfigurationStore
    let logger: Logger

    private var lastScanFile: String { settings.stateFolder + "/last-scan" }

    func run() async throws {
        removeUnfinishedScans()
        let uploader = SpoolUploader(settings: settings, spoolFolder: settings.spoolFolder, logger: logger)
        var uploadPending = true
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let plan = schedule()
            if uploadPending {
                uploadPending = await uploader.uploadPending() != .done
            }
            if let plan, plan.due <= Date() {
                await scan(plan)
                uploadPending = await uploader.uploadPending() != .done
                continue
            }
            var wake = Date().addingTimeInterval(Double(settings.uploadRetrySeconds))
            if let plan, !uploadPending || plan.due < wake { wake = plan.due }
            if plan == nil && !uploadPending { wake = Date().addingTimeInterval(60) }
            let pause = Duration.seconds(max(1, wake.timeIntervalSinceNow))
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
        }
    }

    struct Plan: Equatable {
        var roots: [String]
        var exclusions: [String]
        var due: Date
    }

    /// What to scan and when, or nil when no roots or no interval are configured.
    func schedule() -> Plan? {
        let pushed = try? configurationStore.load()
        let roots = pushed?.managedRoots ?? settings.scanRoots
        guard let interval = pushed?.scanIntervalSeconds ?? settings.scanIntervalSeconds, interval > 0, !roots.isEmpty else { return nil }
        let last = (try? String(contentsOfFile: lastScanFile, encoding: .utf8)).flatMap { RFC3339.parse($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return Plan(roots: roots, exclusions: pushed?.exclusions ?? [], due: last.map { $0.addingTimeInterval(Double(interval)) } ?? Date())
    }

    /// Runs one full scan on a thread of its own (the walk blocks), stopping it early on shutdown.
    private func scan(_ plan: Plan) async {
        var options = ScanOptions(roots: plan.roots)
        options.exclusions = ScanExclusions(patterns: plan.exclusions)
        options.hashMode = .changed
        options.completeListingEvery = settings.completeListingEvery
        let runner = ScanRunner(options: options, spoolFolder: settings.spoolFolder, stateFolder: settings.stateFolder,
                                host: settings.hostID)
        let progress = ScanProgress()
        logger.info("scheduled scan starting", metadata: ["roots": "\(plan.roots)"])
        let outcome: Result<ScanManifest, any Error> = await withGracefulShutdownHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(returning: Result { try runner.run(progress: progress) })
                }
            }
        } onGracefulShutdown: {
            progress.cancel()
        }
        switch outcome {
        case .success(let manifest):
            try? (RFC3339.format(manifest.finishedAt) + "\n").write(toFile: lastScanFile, atomically: true, encoding: .utf8)
            logger.info("scheduled scan finished", metadata: [
                "scan": "\(manifest.scanID)", "files": "\(manifest.summary.files)", "bytes": "\(manifest.summary.bytes)",
                "unreadable": "\(manifest.summary.unreadable)", "batches": "\(manifest.batches.count)",
            ])
        case .failure(let error as CancellationError):
            logger.info("scheduled scan stopped by shutdown; it starts again after the restart", metadata: ["error": "\(error)"])
        case .failure(let error):
            logger.error("scheduled scan failed", metadata: ["error": "\(error)"])
            try? (RFC3339.format(Date()) + "\n").write(toFile: lastScanFile, atomically: true, encoding: .utf8)
        }
    }

    /// A scan folder without a manifest is a scan that stopped halfway (a crash, a shutdown); its batches would
    /// describe part of a tree, so they are dropped and the next scan starts over. A folder whose scan still runs
    /// in another process (an `alto-agent scan` beside the daemon) holds its lock and is left alone.
    private func removeUnfinishedScans() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: settings.spoolFolder)) ?? [] where !name.hasSuffix(".lock") {
            let folder = settings.spoolFolder + "/" + name
            if !FileManager.default.fileExists(atPath: folder + "/" + ScanManifest.fileName),
               !ScanLock.isHeld(spoolFolder: settings.spoolFolder, scanID: name) {
                logger.warning("dropping an unfinished scan from the spool", metadata: ["folder": "\(name)"])
                try? FileManager.default.removeItem(atPath: folder)
            }
        }
    }
}
