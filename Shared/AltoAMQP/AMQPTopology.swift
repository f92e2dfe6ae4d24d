/// The queues and exchanges of the design contract, declared the same way by every process that uses them.
public enum AMQPTopology {
    /// The exchange that dead-lettered messages go through, routed by `<queue>.dlq`.
    public static let deadLetterExchange = "alto.dlx"
    /// The fan-out that WebSocket clients and the audit trail follow.
    public static let notificationsExchange = "notifications"
    /// The header that says why a message was dead-lettered.
    public static let deadLetterReasonHeader = "x-alto-dead-letter-reason"

    public static let ingestJobs = "ingest.jobs"
    public static let plannerJobs = "planner.jobs"
    public static let tieringJobs = "tiering.jobs"
    public static let agentResults = "agent.results"
    /// Reconciliation runs an agent has finished reporting, for the sanitizer to merge.
    public static let sanitizerJobs = "sanitizer.jobs"
    /// The exchange agents publish their results to, bound to the `agent.results` queue alone: an agent's broker
    /// account may write to it and to nothing else, where write access to the default exchange would reach every
    /// queue.
    public static let agentResultsExchange = "agent.results"

    /// The central work queues, declared at start-up by every service.
    public static let workQueues = [ingestJobs, plannerJobs, tieringJobs, agentResults, sanitizerJobs]

    /// The one queue an agent follows: `agent.<tenant>.<host>`, named by tenant and host so a host never sees
    /// another's commands and a broker policy can grant a tenant's agents `^agent\.<tenant>\.` and nothing more.
    public static func agentQueue(customerID: String, hostID: String) -> String {
        "agent.\(customerID.lowercased()).\(hostID.lowercased())"
    }

    /// The broker account of one host's agent, which the API creates for it.
    public static func agentUser(hostID: String) -> String {
        "agent-\(hostID.lowercased())"
    }

    public static func deadLetterQueue(for queue: String) -> String {
        "\(queue).dlq"
    }
}
