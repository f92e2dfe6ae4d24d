import AltoService
import Foundation

/// The agent's identity and where it reports, from `ALTO_API_URL`, `ALTO_AGENT_TOKEN`, `ALTO_CUSTOMER_ID` and
/// `ALTO_HOST_ID` (given at enrolment).
struct AgentSettings: Sendable {
    var service: ServiceSettings
    var apiURL: String
    var token: String
    var customerID: UUID
    var hostID: UUID
    /// Where the agent keeps what must survive a restart (`ALTO_AGENT_STATE_DIR`).
    var stateFolder: String
    /// Roots and interval of scheduled scans until the central suite pushes a configuration with its own.
    var scanRoots: [String]
    var scanIntervalSeconds: Int?
    /// Pause before batches the API did not take are offered again.
    var uploadRetrySeconds: Int
    /// Between heartbeats, until the API answers with its own interval.
    var heartbeatSeconds: Int
    /// Scans waiting to be uploaded, one folder each.
    var spoolFolder: String { stateFolder + "/spool" }

    init() throws {
        service = try ServiceSettings(serviceName: "alto-agent", defaultPort: 9105)
        let reader = service.reader
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
        scanRoots = reader.string(forKey: "alto.agent.scan.roots", default: "").split(separator: ",").map(String.init)
        scanIntervalSeconds = reader.int(forKey: "alto.agent.scan.interval.seconds")
        uploadRetrySeconds = max(1, reader.int(forKey: "alto.agent.upload.retry.seconds", default: 60))
        heartbeatSeconds = max(1, reader.int(forKey: "alto.agent.heartbeat.seconds", default: 60))
    }
}

struct AgentError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
