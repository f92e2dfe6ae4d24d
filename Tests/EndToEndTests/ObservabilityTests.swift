import AltoRuntime
import AltoTestSupport
import Foundation
import FoundationNetworking
import Testing


/// The suite as Prometheus sees it: every service's `/metrics` passes `promtool check metrics` and names only
/// metrics of the catalog; a real Prometheus scrapes the running suite and an agent that tiered and recalled, answers
/// the bytes saved the analytics API answers, loads the alert rules without error, and parses every query of every
/// Grafana dashboard. The alert rules pass `promtool check rules` and their own `promtool test rules`.
@Suite(.timeLimit(.minutes(6))) struct ObservabilityTests {
    struct Created: Decodable {
        var id: UUID
        var agent_token: String?
    }

    static let deploy = TestServers.packageRoot.appendingPathComponent("deploy")

    @Test func alertRulesAndScrapeConfigurationPassPromtool() async throws {
        let prometheus = Self.deploy.appendingPathComponent("prometheus")
        for arguments in [["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]] {
            let outcome = try await Command.run("sh", ["-c", "cd '\(prometheus.path)' && promtool \"$@\"", "promtool"] + arguments)
            #expect(outcome.status == 0, "promtool \(arguments.joined(separator: " ")):\n\(String(decoding: outcome.output, as: UTF8.self))\(outcome.errors)")
        }
    }

    @Test func prometheusScrapesTheSuiteAndAgreesWithTheAPI() async throws {
        let run = UUID().uuidString.prefix(8).lowercased()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-metrics-\(run)")
        let data = work.appendingPathComponent("data/archive")
        let tier2 = work.appendingPathComponent("tier2")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true)
        var cold: [String] = []
        for (index, size) in [2 << 20, 3 << 20, 512 << 10].enumerated() {
            let path = data.appendingPathComponent("old-\(index).bin").path
            try ColdFile.write(path, size: size)
            cold.append(path)
        }

        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor", "alto-sanitizer"],
                                           environment: ["ALTO_FLEET_GAUGES_SECONDS": "1"])
        try await suite.whileRunning {
            let customer: Created = try await suite.post("/api/v1/customers", ["name": "metrics-\(suite.run)"])
            let host: Created = try await suite.post("/api/v1/customers/\(customer.id)/hosts", ["hostname": "fs-metrics-\(suite.run)"])
            let target: Created = try await suite.post("/api/v1/storage-targets", ["name": "tier2", "kind": "filesystem", "location": tier2.path],
                                                       customer: customer.id)
            let _: Created = try await suite.post("/api/v1/rules", [
                "name": "old", "priority": 1, "path_globs": ["\(data.path)/**"], "min_days_since_modified": 30,
                "target_id": target.id.uuidString,
            ] as [String: any Sendable], customer: customer.id)
            let agentEnvironment = suite.agentEnvironment(customer: customer.id, host: host.id, token: try #require(host.agent_token))
                .merging(["ALTO_AGENT_SCAN_ROOTS": data.path]) { _, new in new }
            let agent = try await suite.launch("alto-agent", arguments: ["run"], environment: agentEnvironment)
            let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["scan", data.path], environment: agentEnvironment)
            #expect(status == 0, "\(output)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the files are stubs", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == cold.count
                }
                // A recall, so the savings have something recalled to subtract.
                let (recallStatus, recallOutput) = try await ServiceProcess.run("alto-agent", arguments: ["recall", cold[2]],
                                                                                environment: agentEnvironment)
                #expect(recallStatus == 0, "\(recallOutput)")
                try await RunningSuite.waitUntil("the recall is recorded", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'recalled'") == 1
                }
            }

            var jobs: [(String, Int)] = []
            for name in ["alto-api", "alto-ingest", "alto-planner", "alto-actor", "alto-sanitizer"] {
                jobs.append((name, try #require(suite.service(name)).port))
            }
            jobs.append(("alto-agent", try agent.port))
            let catalog = Set(MetricCatalog.entries.values.map(\.name))
            for (name, port) in jobs {
                let (code, text) = try await suite.send("GET", "http://127.0.0.1:\(port)/metrics", body: nil, headers: [:])
                #expect(code == 200, "\(name) /metrics")
                let file = suite.work.appendingPathComponent("\(name).metrics")
                try Data(text.utf8).write(to: file)
                let lint = try await Command.run("sh", ["-c", "promtool check metrics < '\(file.path)'"])
                #expect(lint.status == 0, "promtool check metrics on \(name):\n\(String(decoding: lint.output, as: UTF8.self))\(lint.errors)")
                let families = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
                #expect(!families.isEmpty, "\(name) exposes metrics")
                let unknown = families.filter { !catalog.contains($0) }
                #expect(unknown.isEmpty, "\(name) exposes metrics the catalog does not describe: \(unknown)")
                #expect(families.count == text.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.count, "\(name): HELP on every metric")
            }

            let prometheus = try await Self.startPrometheus(scraping: jobs, in: suite.work)
            defer { prometheus.stop() }
            let url = "http://127.0.0.1:\(prometheus.port)"
            try await RunningSuite.waitUntil("Prometheus scraped every job", timeout: .seconds(60)) {
                let up = try await Self.query(suite, url, "sum(up)")
                return up.first?.value == Double(jobs.count)
            }

            let tenant = customer.id.uuidString.lowercased()
            let (savingsCode, savingsText) = try await suite.send("GET", suite.apiURL + "/api/v1/analytics/savings",
                                                                  body: nil, headers: RunningSuite.adminHeaders.merging(
                                                                      ["X-Alto-Customer-Id": customer.id.uuidString]) { _, new in new })
            #expect(savingsCode == 200, "\(savingsText)")
            let savings = try JSONSerialization.jsonObject(with: Data(savingsText.utf8)) as? [String: Any]
            let saved = try #require(savings?["bytes_saved"] as? Int)
            let registered = try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.count(postgres, "SELECT coalesce(sum(coalesce(bytes_saved, size)), 0)::bigint FROM stub_registry WHERE state = 'active'")
            }
            #expect(saved > 0 && saved == registered, "the API's bytes saved (\(saved)) are what the active stubs freed (\(registered))")
            try await RunningSuite.waitUntil("Prometheus has the API's bytes saved", timeout: .seconds(30)) {
                try await Self.query(suite, url, "max by (tenant) (alto_saved_bytes{tenant=\"\(tenant)\"})").first?.value == Double(saved)
            }

            let rules = try await Self.get(suite, url + "/api/v1/rules")
            let groups = ((rules["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
            let loaded = groups.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
            let written = try String(contentsOf: Self.deploy.appendingPathComponent("prometheus/alerts.yml"), encoding: .utf8)
                .split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("- alert:") }.count
            #expect(loaded.count == written && written > 0, "the alert rules Prometheus loaded: \(loaded.map { $0["name"] ?? "?" })")
            try await RunningSuite.waitUntil("every alert rule evaluated without error", timeout: .seconds(30)) {
                let rules = try await Self.get(suite, url + "/api/v1/rules")
                let all = (((rules["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []).flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
                return !all.isEmpty && all.allSatisfy { $0["health"] as? String == "ok" }
            }

            var panels = 0
            for file in try FileManager.default.contentsOfDirectory(atPath: Self.deploy.appendingPathComponent("grafana/dashboards").path) {
                let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.deploy.appendingPathComponent("grafana/dashboards/\(file)")))
                for panel in ((dashboard as? [String: Any])?["panels"] as? [[String: Any]]) ?? [] {
                    for target in (panel["targets"] as? [[String: Any]]) ?? [] {
                        let expression = try #require(target["expr"] as? String)
                            .replacingOccurrences(of: "$__rate_interval", with: "1m").replacingOccurrences(of: "$tenant", with: tenant)
                        let answer = try await Self.get(suite, url + "/api/v1/query?query=" + Self.encoded(expression))
                        #expect(answer["status"] as? String == "success", "\(file), panel \(panel["title"] ?? ""): \(expression): \(answer)")
                        panels += 1
                    }
                }
            }
            #expect(panels >= 40, "queries checked: \(panels)")
            let tenants = try await Self.get(suite, url + "/api/v1/label/tenant/values?match[]=alto_saved_bytes")
            #expect((tenants["data"] as? [String])?.contains(tenant) == true, "the per-tenant dashboard's variable lists the tenant")
        }
        try? FileManager.default.removeItem(at: work)
        try? FileManager.default.removeItem(at: suite.work)
    }

    /// Prometheus with the repository's alert rules and a scrape of each job every second, on a port the kernel
    /// chose a moment ago (another start is tried if it was taken since).
    static func startPrometheus(scraping jobs: [(String, Int)], in folder: URL) async throws -> PeerServer {
        let home = folder.appendingPathComponent("prometheus")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        var configuration = """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            rule_files: ['\(deploy.appendingPathComponent("prometheus/alerts.yml").path)']
            scrape_configs:

            """
        for (name, port) in jobs {
            configuration += "  - {job_name: \(name), static_configs: [{targets: ['127.0.0.1:\(port)']}]}\n"
        }
        let file = home.appendingPathComponent("prometheus.yml")
        try Data(configuration.utf8).write(to: file)
        var lastError: (any Error)?
        for attempt in 0..<3 {
            do {
                return try await PeerServer(["prometheus", "--config.file=\(file.path)", "--storage.tsdb.path=\(home.path)/data-\(attempt)",
                                             "--web.listen-address=127.0.0.1:{port}"], name: "prometheus-\(attempt)", logFolder: home)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TestFailure("Prometheus did not start")
    }

    /// Prometheus's JSON answer; empty while it answers otherwise (a 503 in plain text until it is ready), so a
    /// wait for an answer keeps waiting.
    static func get(_ suite: RunningSuite, _ url: String) async throws -> [String: Any] {
        let (_, text) = try await suite.send("GET", url, body: nil, headers: [:])
        return ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
    }

    /// An instant query's samples, each series' value.
    static func query(_ suite: RunningSuite, _ url: String, _ expression: String) async throws -> [(labels: [String: String], value: Double)] {
        let answer = try await get(suite, url + "/api/v1/query?query=" + encoded(expression))
        let results = ((answer["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
        return results.compactMap { result in
            guard let value = result["value"] as? [Any], value.count == 2, let text = value[1] as? String, let number = Double(text) else { return nil }
            return (result["metric"] as? [String: String] ?? [:], number)
        }
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }
}
