/// Every metric an Alto process exposes, with its help text and, for histograms, its buckets: one list, so the
/// `/metrics` of every service carries HELP lines, the alert rules and dashboards have one place to look names up,
/// and a metric that is not here is a test failure rather than a series nobody can explain.
///
/// Entries are keyed by the label the code records under: Alto's own names are already Prometheus names, and
/// Hummingbird's request metrics (OpenTelemetry-style labels such as `http.server.request.duration`) are renamed
/// into the `alto_http_` family with short label names.
public enum MetricCatalog {
    public struct Entry: Sendable {
        /// The name exposed to Prometheus, with its unit and, for counters, `_total`.
        public var name: String
        public var help: String
        /// Upper bounds of a timer's buckets, for durations that are not an HTTP request's.
        public var buckets: [Duration]?

        init(_ name: String, _ help: String, buckets: [Duration]? = nil) {
            self.name = name
            self.help = help
            self.buckets = buckets
        }
    }

    /// Buckets for work that takes seconds to an hour: scans, plans, uploads.
    static let longBuckets: [Duration] = [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(15), .seconds(30),
                                          .seconds(60), .seconds(300), .seconds(900), .seconds(1800), .seconds(3600)]
    /// Buckets for what a reader waits for: a recall from the second tier.
    static let recallBuckets: [Duration] = [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                            .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
                                            .seconds(60), .seconds(300)]

    /// Label names Hummingbird records under, and the names Prometheus sees.
    public static let labelNames: [String: String] = [
        "http.route": "route", "http.request.method": "method", "http.response.status_code": "status", "error.type": "status",
    ]

    /// The methods counted by name; any other is counted as `other`.
    public static let httpMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    public static let entries: [String: Entry] = Dictionary(uniqueKeysWithValues: list.map { ($0.key, $0.entry) })

    private static let list: [(key: String, entry: Entry)] = [
        // HTTP, every service (Hummingbird's MetricsMiddleware)
        ("hb.requests", Entry("alto_http_requests_total", "HTTP requests answered, by route template, method and status code.")),
        ("hb.request.errors", Entry("alto_http_request_errors_total", "HTTP requests that ended in an error, by route template, method and status code.")),
        ("http.server.request.duration", Entry("alto_http_request_duration_seconds", "Seconds from an HTTP request's arrival to the end of its answer, by route template.")),
        ("http.server.active_requests", Entry("alto_http_active_requests", "HTTP requests being answered now, by method.")),
        // API
        ("alto_api_heartbeats_total", Entry("alto_api_heartbeats_total", "Agent heartbeats the API recorded.")),
        ("alto_api_watermark_plans_total", Entry("alto_api_watermark_plans_total", "Plans a heartbeat asked for because a volume rose above its high watermark.")),
        ("alto_api_upload_bytes_total", Entry("alto_api_upload_bytes_total", "Compressed scan batch bytes the API received and staged.")),
        ("alto_api_uploads_total", Entry("alto_api_uploads_total", "Scan batch uploads, by result: accepted, or a duplicate of one staged before (refusals are in alto_http_requests_total).")),
        ("alto_api_recalls_requested_total", Entry("alto_api_recalls_requested_total", "Files asked back through the recall API.")),
        // Ingest
        ("alto_ingest_rows_total", Entry("alto_ingest_rows_total", "Scan rows ingested, by result: accepted into the inventory or rejected with a reason.")),
        ("alto_ingest_batch_duration_seconds", Entry("alto_ingest_batch_duration_seconds", "Seconds to ingest one scan batch, from its message to its commit.", buckets: longBuckets)),
        // Planner
        ("alto_planner_files_evaluated_total", Entry("alto_planner_files_evaluated_total", "Inventory files the rules were evaluated against: the rule evaluation rate.")),
        ("alto_planner_files_planned_total", Entry("alto_planner_files_planned_total", "Files put in a tiering job.")),
        ("alto_planner_jobs_total", Entry("alto_planner_jobs_total", "Tiering jobs planned.")),
        ("alto_planner_plan_duration_seconds", Entry("alto_planner_plan_duration_seconds", "Seconds to plan one host.", buckets: longBuckets)),
        // Actor
        ("alto_actor_jobs_dispatched_total", Entry("alto_actor_jobs_dispatched_total", "Tiering jobs sent to their host's agent.")),
        ("alto_actor_jobs_redispatched_total", Entry("alto_actor_jobs_redispatched_total", "Tiering jobs sent again after their agent went quiet.")),
        ("alto_actor_jobs_held_total", Entry("alto_actor_jobs_held_total", "Tiering jobs held back by a host's or target's concurrency limit.")),
        ("alto_actor_files_total", Entry("alto_actor_files_total", "File outcomes the actor recorded, by action (tier, recall, security), outcome and reason code.")),
        ("alto_actor_bytes_saved_total", Entry("alto_actor_bytes_saved_total", "Disk bytes that tiered files gave back, as their agents measured them.")),
        ("alto_actor_security_events_total", Entry("alto_actor_security_events_total", "Stub records an agent refused to follow.")),
        ("alto_actor_tier_unavailable_total", Entry("alto_actor_tier_unavailable_total", "Tiering jobs put back because their second tier could not be reached.")),
        // Sanitizer
        ("alto_sanitizer_open_findings", Entry("alto_sanitizer_open_findings", "Open reconciliation findings of every tenant, by kind.")),
        ("alto_sanitizer_stubs_at_risk", Entry("alto_sanitizer_stubs_at_risk", "Active stubs whose copy is missing or damaged.")),
        ("alto_sanitizer_findings_opened_total", Entry("alto_sanitizer_findings_opened_total", "Reconciliation findings opened, by kind.")),
        // Fleet, recorded by the sanitizer from the database and the broker
        ("alto_hosts", Entry("alto_hosts", "Hosts by tenant and agent state: online (heartbeat within three intervals), silent, or never heard from.")),
        ("alto_saved_bytes", Entry("alto_saved_bytes", "Disk bytes a tenant's stubs give back now, net of recalls: the analytics API's figure.")),
        ("alto_stubs", Entry("alto_stubs", "Files tiered and not recalled since, by tenant, from the daily savings series.")),
        ("alto_queue_messages", Entry("alto_queue_messages", "Messages ready on a central queue or its dead-letter queue, not yet taken by a consumer.")),
        ("alto_queue_consumers", Entry("alto_queue_consumers", "Consumers following a central queue.")),
        ("alto_ingest_lag_seconds", Entry("alto_ingest_lag_seconds", "Age of the oldest scan batch staged and not yet ingested; 0 when none waits.")),
        ("alto_outbox_backlog", Entry("alto_outbox_backlog", "Messages committed to the outbox and not yet published.")),
        ("alto_outbox_oldest_seconds", Entry("alto_outbox_oldest_seconds", "Age of the oldest unpublished outbox message; 0 when none waits.")),
        ("alto_fleet_refresh_timestamp_seconds", Entry("alto_fleet_refresh_timestamp_seconds", "When the fleet gauges were last read from the database, as a Unix time.")),
        // Outbox relay, every central service
        ("alto_outbox_published_total", Entry("alto_outbox_published_total", "Outbox messages published to the broker.")),
        // Agent
        ("alto_agent_scans_total", Entry("alto_agent_scans_total", "Scans of the managed roots, by result: done or failed.")),
        ("alto_agent_scan_duration_seconds", Entry("alto_agent_scan_duration_seconds", "Seconds one scan took, from its start to its last batch spooled.", buckets: longBuckets)),
        ("alto_agent_scan_files_total", Entry("alto_agent_scan_files_total", "Files scans listed.")),
        ("alto_agent_scan_files", Entry("alto_agent_scan_files", "Files the last scan listed.")),
        ("alto_agent_upload_bytes_total", Entry("alto_agent_upload_bytes_total", "Compressed scan batch bytes uploaded to the API.")),
        ("alto_agent_upload_duration_seconds", Entry("alto_agent_upload_duration_seconds", "Seconds one scan batch took to upload, retries included.", buckets: longBuckets)),
        ("alto_agent_upload_failures_total", Entry("alto_agent_upload_failures_total", "Scan batch uploads that failed and stay spooled.")),
        ("alto_agent_tiering_files_total", Entry("alto_agent_tiering_files_total", "Files a tiering job ended with, by outcome and reason code.")),
        ("alto_agent_bytes_tiered_total", Entry("alto_agent_bytes_tiered_total", "Bytes of files tiered (their size, before compression).")),
        ("alto_agent_recalls_total", Entry("alto_agent_recalls_total", "Stubs asked back, by outcome: recalled or failed.")),
        ("alto_agent_recall_duration_seconds", Entry("alto_agent_recall_duration_seconds", "Seconds from a recall's request to the file being whole again.", buckets: recallBuckets)),
        ("alto_agent_security_events_total", Entry("alto_agent_security_events_total", "Stub records the agent refused to follow.")),
        ("alto_agent_heartbeats_total", Entry("alto_agent_heartbeats_total", "Heartbeats sent to the API, by result: sent or failed.")),
        ("alto_agent_last_heartbeat_timestamp_seconds", Entry("alto_agent_last_heartbeat_timestamp_seconds", "When the API last took this agent's heartbeat, as a Unix time.")),
        ("alto_agent_guard_active", Entry("alto_agent_guard_active", "1 while a stub guard watches this host's managed roots, else 0.")),
    ]
}
