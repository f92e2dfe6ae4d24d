import AltoAMQP
import AltoRuntime
import Foundation

/// The agent's identity and where it reports, from `ALTO_API_URL`, `ALTO_AGENT_TOKEN`, `ALTO_CUSTOMER_ID` and
/// `ALTO_HOST_ID` (given at enrolment).
public struct AgentSettings: Sendable {
    var runtime: RuntimeSettings
    var apiURL: String
    var token: String
    var customerID: UUID
    var hostID: UUID
    /// Where the agent keeps what must survive a restart (`ALTO_AGENT_STATE_DIR`).
    var stateFolder: String
    /// Roots and interval of scheduled scans until the central suite pushes a configuration with its own.
    var scanRoots: [String]
    var scanIntervalSeconds: Int?
    /// Full scans list only what changed since the previous one, but every this many list every file
    /// (`ALTO_AGENT_SCAN_COMPLETE_LISTING_EVERY`, 7; 1 lists every file every time).
    var completeListingEvery: Int
    /// Pause before batches the API did not take are offered again.
    var uploadRetrySeconds: Int
    /// Between heartbeats, until the API answers with its own interval.
    var heartbeatSeconds: Int
    /// Files of one job tiered at once (`ALTO_AGENT_PARALLEL_FILES`), unless the pushed configuration says otherwise.
    var parallelFiles: Int
    /// Leading bytes of a tiered file kept on disk, so sniffers and thumbnailers read them without a recall.
    var previewBytes: Int64
    /// Programs (by process name) whose reads of a stub get an error instead of a recall: backups, virus scanners,
    /// indexers, so one run of them cannot recall a whole volume.
    var scannerPrograms: Set<String>
    /// Programs that only sniff headers or draw thumbnails: they open a stub without recalling it and read its
    /// resident preview; a read past it still recalls.
    var previewPrograms: Set<String>
    /// On-access recalls at once, and per second, on this host; more wait their turn (a recall storm is throttled).
    var recallConcurrency: Int
    var recallsPerSecond: Double
    /// Seconds a reader of a stub waits for the agent to come back before its read fails with EIO.
    var recallWaitSeconds: Int
    /// The Unix socket on which the stub guard hands on-access events to the agent.
    var guardSocket: String
    /// Start `alto-agent guard` when none is listening (`ALTO_AGENT_START_GUARD`); off where systemd runs it.
    var startGuard: Bool
    /// Make stubs where no guard watches (`ALTO_AGENT_UNGUARDED_STUBS`), for tests of tiering that are not about
    /// reading stubs: there a program reading a stub gets its hole as zeros. Never on a host users read.
    var unguardedStubs: Bool
    /// How the agent reaches the broker: with the account the API issues it, or, where the API keeps no accounts,
    /// the fixed login `ALTO_AGENT_AMQP_URL` names (an account made by hand, named `agent-<host id>`).
    var broker: AMQPConfiguration
    /// The account the API issues, when `broker` uses one.
    var brokerAccount: AMQPAccount?
    /// Scans waiting to be uploaded, one folder each.
    var spoolFolder: String { stateFolder + "/spool" }
    /// The local key provider's keyring, unless `ALTO_KEY_DIR` names another (absolute) folder.
    var keyFolder: String { stateFolder + "/keys" }
    /// Results not yet confirmed by the broker, sent in order by the running agent.
    var resultsFolder: String { stateFolder + "/results" }
    /// Results of finished jobs, so a job delivered again is answered, not run again.
    var journalFolder: String { stateFolder + "/jobs" }

    public init() throws {
        runtime = try RuntimeSettings(serviceName: "alto-agent", defaultPort: 9105)
        let reader = runtime.reader
        apiURL = reader.string(forKey: "alto.api.url", default: "http://127.0.0.1:8080")
        token = reader.string(forKey: "alto.agent.token", isSecret: true, default: "")
        guard let customer = UUID(uuidString: reader.string(forKey: "alto.customer.id", default: "")),
              let host = UUID(uuidString: reader.string(forKey: "alto.host.id", default: ""))
        else {
            throw AgentError("ALTO_CUSTOMER_ID and ALTO_HOST_ID must be the UUIDs the API gave at enrolment")
        }
        customerID = customer
        hostID = host
        stateFolder = reader.string(forKey: "alto.agent.state.dir", default: "/var/lib/alto-agent")
        guard stateFolder.hasPrefix("/") else {
            throw AgentError("ALTO_AGENT_STATE_DIR must be an absolute path, not \(stateFolder): the spool, the journal and the keyring live there")
        }
        scanRoots = reader.string(forKey: "alto.agent.scan.roots", default: "").split(separator: ",").map(String.init)
        scanIntervalSeconds = reader.int(forKey: "alto.agent.scan.interval.seconds")
        completeListingEvery = max(1, reader.int(forKey: "alto.agent.scan.complete.listing.every", default: 7))
        uploadRetrySeconds = max(1, reader.int(forKey: "alto.agent.upload.retry.seconds", default: 60))
        heartbeatSeconds = max(1, reader.int(forKey: "alto.agent.heartbeat.seconds", default: 60))
        parallelFiles = max(1, reader.int(forKey: "alto.agent.parallel.files", default: 4))
        previewBytes = Int64(max(0, reader.int(forKey: "alto.agent.preview.bytes", default: 4096)))
        scannerPrograms = Self.names(reader.string(forKey: "alto.agent.scanner.programs", default: Self.defaultScanners))
        previewPrograms = Self.names(reader.string(forKey: "alto.agent.preview.programs", default: Self.defaultPreviewPrograms))
        recallConcurrency = max(1, reader.int(forKey: "alto.agent.recall.concurrency", default: 4))
        recallsPerSecond = max(0.1, reader.double(forKey: "alto.agent.recalls.per.second", default: 50))
        recallWaitSeconds = max(0, reader.int(forKey: "alto.agent.recall.wait.seconds", default: 30))
        guardSocket = reader.string(forKey: "alto.agent.guard.socket", default: stateFolder + "/guard.sock")
        startGuard = reader.bool(forKey: "alto.agent.start.guard", default: true)
        unguardedStubs = reader.bool(forKey: "alto.agent.unguarded.stubs", default: false)
        let fixedBroker = reader.string(forKey: "alto.agent.amqp.url", isSecret: true, default: "")
        if fixedBroker.isEmpty {
            let account = AMQPAccount()
            var broker = AMQPConfiguration()
            broker.account = account
            self.broker = broker
            brokerAccount = account
        } else {
            broker = try AMQPConfiguration(url: fixedBroker)
            brokerAccount = nil
        }
    }

    /// Backup agents, virus scanners and desktop indexers commonly found on Linux file servers.
    static let defaultScanners = "bacula-fd,bareos-fd,bpbkar,dsmc,clamd,clamscan,freshclam,updatedb,plocate,mlocate,baloo_file,tracker-miner-f"

    /// Desktop thumbnailers and `file`, which read only the first bytes of what they look at.
    static let defaultPreviewPrograms = "file,gnome-thumbnailer,ffmpegthumbnailer,totem-video-thu,evince-thumbnai,tumblerd"

    /// A comma-separated list of process names as `/proc/<pid>/comm` gives them (at most 15 characters).
    private static func names(_ list: String) -> Set<String> {
        Set(list.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces).prefix(15)) }.filter { !$0.isEmpty })
    }

    /// The folders this agent manages: those the central suite pushed, or the configured scan roots.
    func managedRoots(_ store: AgentConfigurationStore) -> [String] {
        (try? store.load())?.managedRoots ?? scanRoots
    }
}

public struct AgentError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
