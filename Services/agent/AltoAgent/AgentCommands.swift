import AltoAMQP
import AltoKeys
import AltoModels
import AltoRuntime
import AltoTiering
import Foundation

/// What `alto-agent`'s one-shot commands do, beside `run` (`buildAgent`): each returns whether it did all it was
/// asked, and says what it did on standard output, so the executable only reads its arguments and exits.
public enum AgentCommands {
    /// Scans into batches in `folder` (a fresh temporary one when nil) without uploading them; with `printing`, the
    /// CSV goes to standard output instead and the batches are dropped.
    public static func scanLocally(_ options: ScanOptions, into folder: String?, printing: Bool) throws {
        let folder = folder ?? FileManager.default.temporaryDirectory.path + "/alto-scan-\(UUID().uuidString)"
        let manifest = try ScanRunner(options: options, spoolFolder: folder, stateFolder: nil).run(progress: ScanProgress())
        let scanFolder = folder + "/" + manifest.scanID.uuidString.lowercased()
        guard printing else {
            print(manifest.report + "; batches in \(scanFolder)")
            return
        }
        for batch in manifest.batches {
            FileHandle.standardOutput.write(try Data(contentsOf: URL(fileURLWithPath: scanFolder + "/" + batch.file)))
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Scans into the spool and uploads every batch in it; false when some stay for `alto-agent upload`.
    public static func scanAndUpload(_ options: ScanOptions, settings: AgentSettings) async throws -> Bool {
        let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.runtime.logLevel)
        var options = options
        options.completeListingEvery = settings.completeListingEvery
        let manifest = try ScanRunner(options: options, spoolFolder: settings.spoolFolder, stateFolder: settings.stateFolder,
                                      host: settings.hostID)
            .run(progress: ScanProgress())
        print(manifest.report)
        let outcome = await SpoolUploader(settings: settings, spoolFolder: settings.spoolFolder, logger: logger).uploadPending()
        guard outcome == .done else {
            print("upload incomplete; the remaining batches stay in the spool (`alto-agent upload` resumes)")
            return false
        }
        print("all batches accepted")
        return true
    }

    /// Uploads the batches still in the spool; false when some could not be delivered now.
    public static func upload(settings: AgentSettings) async -> Bool {
        let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.runtime.logLevel)
        let outcome = await SpoolUploader(settings: settings, spoolFolder: settings.spoolFolder, logger: logger).uploadPending()
        if case .retryLater(let reason) = outcome {
            print("upload incomplete: \(reason)")
            return false
        }
        return true
    }

    /// Recalls the stubs `paths` name (a folder stands for every stub below it) and reports each recall, so the
    /// inventory follows; false when one could not be recalled. Works with only the tenant named in the
    /// environment: no broker, no enrolment, when the central suite is out of reach.
    public static func recall(_ paths: [String]) async throws -> Bool {
        let settings = try? AgentSettings()
        let environment = ProcessInfo.processInfo.environment
        let stateFolder = settings?.stateFolder ?? environment["ALTO_AGENT_STATE_DIR"] ?? "/var/lib/alto-agent"
        guard let customerID = settings?.customerID ?? environment["ALTO_CUSTOMER_ID"].flatMap(UUID.init(uuidString:)) else {
            throw AgentError("ALTO_CUSTOMER_ID must name the tenant whose stubs these are")
        }
        let catalog = TargetCatalog(folder: stateFolder, keys: try KeyProviders.make(defaultFolder: stateFolder + "/keys"), customerID: customerID)
        // Where a guard runs, it is told who opens these stubs, so it lets this command's own opens through.
        let guardSocket = settings?.guardSocket ?? stateFolder + "/guard.sock"
        let standIn = UnixSocketAddress.connect(to: guardSocket)
        if let standIn {
            if let (group, _) = GuardLink.handshake(standIn, as: .recall) {
                if group >= 0 { close(group) }
            } else {
                print("the stub guard did not answer; recalls may wait for it")
            }
        }
        defer { if let standIn { close(standIn) } }
        var outcomes: [AgentResult.File] = []
        for path in StubWalk.stubs(under: paths) {
            let outcome: Result<StubRecord, TieringError>
            do throws(TieringError) {
                let record = try await StubRecall.recall(path: path, stores: catalog)
                print("recalled \(path) (\(record.size) bytes, \(record.hash))")
                outcome = .success(record)
            } catch {
                print("cannot recall \(path): \(error.message)")
                outcome = .failure(error)
            }
            outcomes.append(.recall(of: path, fileID: nil, outcome))
        }
        let recalled = outcomes.filter { $0.outcome == .recalled }
        if !recalled.isEmpty, let settings {
            let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent", level: settings.runtime.logLevel)
            if let account = settings.brokerAccount {
                _ = await BrokerAccountService(settings: settings, account: account, logger: logger).renew()
            }
            let publisher = AMQPPublisher(configuration: settings.broker, logger: logger)
            let reporter = ResultReporter(publisher: publisher, spool: ResultSpool(folder: settings.resultsFolder),
                                          customerID: settings.customerID, hostID: settings.hostID, logger: logger)
            // Spooled first: what cannot be sent now, the running agent sends once the broker is back.
            reporter.report(AgentResult(jobID: nil, action: .recall, targetID: nil, files: recalled))
            if await !reporter.sendPending() { print("the broker is out of reach; the agent reports these recalls once it is back") }
            await publisher.shutdown()
        }
        return recalled.count == outcomes.count
    }

    /// Where a restore reads copies from: a target this agent's jobs named, or one described on the command line,
    /// its credentials from the environment (`ALTO_TARGET_<SETTING>`), when nothing of the host survived.
    public enum RestoreSource: Sendable {
        case catalog(UUID)
        case location(String, settings: [String: String])
    }

    /// Rebuilds the tenant's files below `folder` from a target's copies and the tenant's key alone; false when a
    /// copy could not be restored.
    public static func restore(into folder: String, from source: RestoreSource, hostID: UUID?, pathPrefix: String?,
                               parallel: Int, trustsUnsealed: Bool) async throws -> Bool {
        let environment = ProcessInfo.processInfo.environment
        let stateFolder = environment["ALTO_AGENT_STATE_DIR"] ?? "/var/lib/alto-agent"
        guard let customerID = environment["ALTO_CUSTOMER_ID"].flatMap(UUID.init(uuidString:)) else {
            throw AgentError("ALTO_CUSTOMER_ID must name the tenant whose files to restore")
        }
        let catalog = TargetCatalog(folder: stateFolder, keys: try KeyProviders.make(defaultFolder: stateFolder + "/keys"), customerID: customerID)
        let store: any TierStore
        switch source {
        case .catalog(let id):
            guard let target = catalog.target(id) else { throw AgentError("this agent's state folder knows no target \(id)") }
            store = try await catalog.store(for: target)
        case .location(let location, let settings):
            store = try await catalog.store(for: try described(location, settings: settings, environment: environment))
        }
        let counts = RestoreCounts()
        let restore = TreeRestore(store: store, destination: folder, selection: .init(customerID: customerID, hostID: hostID, pathPrefix: pathPrefix),
                                  parallel: parallel, trustsUnsealed: trustsUnsealed) { encryption throws(TieringError) in
            try await catalog.dataKey(for: encryption)
        }
        try await restore.run { outcome in
            counts.add(outcome)
            switch outcome {
            case .restored(let path, let bytes): print("restored \(path) (\(bytes) bytes)")
            case .skipped(let path, let reason): print("skipped \(path): \(reason)")
            case .failed(let location, let reason): print("cannot restore \(location): \(reason)")
            }
        }
        print(counts.summary)
        return counts.failed == 0
    }

    /// A target from its location and settings, its kind read from the location's form.
    static func described(_ location: String, settings: [String: String], environment: [String: String]) throws -> StorageTargetReference {
        let kindName: StorageTargetReference.Kind = if location.hasPrefix("s3://") { .s3 }
            else if location.hasPrefix("https://") { .azureBlob }
            else if location.hasPrefix("//") || location.hasPrefix("\\\\") { .smb }
            else { .filesystem }
        guard let kind = StorageKind.named(kindName) else { throw AgentError("no storage kind \(kindName)") }
        var secrets: [String: String] = [:]
        for setting in kind.settings where setting.isSecret {
            if let value = environment["ALTO_TARGET_" + setting.name.uppercased()] { secrets[setting.name] = value }
        }
        if let problem = kind.problem(location: location, settings: settings.merging(secrets) { $1 }) {
            throw AgentError("\(problem.field): \(problem.message)")
        }
        return StorageTargetReference(id: UUID(), kind: kindName, location: location, settings: settings, secrets: secrets)
    }

    /// Runs the stub guard's keeper on the managed roots until SIGTERM: it holds the fanotify group and restarts
    /// the guard proper whenever it exits.
    public static func guardStubs(settings: AgentSettings) throws {
        let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent-guard", level: settings.runtime.logLevel)
        let roots = settings.managedRoots(AgentConfigurationStore(folder: settings.stateFolder))
        guard !roots.isEmpty else { throw AgentError("no managed roots: set ALTO_AGENT_SCAN_ROOTS") }
        try StubGuardKeeper(roots: roots, socketPath: settings.guardSocket, logger: logger).run()
    }

    /// Runs the guard proper, as the keeper starts it, with the group and socket it inherits.
    public static func guardWorker(settings: AgentSettings) throws {
        let (logger, _) = ServiceBootstrap.bootstrap(label: "alto-agent-guard", level: settings.runtime.logLevel)
        try StubGuard(policy: GuardPolicy(scanners: settings.scannerPrograms, previewPrograms: settings.previewPrograms),
                      waitSeconds: settings.recallWaitSeconds, logger: logger).run()
    }
}
