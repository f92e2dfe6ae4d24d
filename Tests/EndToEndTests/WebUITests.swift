import AltoTestSupport
import Foundation
import PostgresNIO
import Testing


/// The web UI in Debian's headless Chromium, driven by Selenium (`Tests/Browser/web_ui_test.py`), against the
/// whole suite as processes with a real agent: viewer, operator and admin sign in and see what each may do, every
/// button hidden from a role is refused by the API for that role's own session, a rule is saved from its what-if,
/// a scan's job finishes live on the jobs page, a file is recalled, and the overview shows the API's figures.
/// Screenshots of each page are kept in `.build/test-artifacts/web-ui` (or `ALTO_TEST_ARTIFACTS`).
@Suite(.timeLimit(.minutes(10))) struct WebUITests {
    struct Created: Decodable {
        var id: UUID
        var agent_token: String?
    }

    @Test func eachRoleSeesWhatItMayDoAndTheOperatorTiersAndRecallsFromTheBrowser() async throws {
        let interface = TestServers.packageRoot.appendingPathComponent("web/dist")
        try #require(FileManager.default.fileExists(atPath: interface.appendingPathComponent("index.html").path),
                     "the web UI is not built: run scripts/build-ui.sh")
        let artifacts = ProcessInfo.processInfo.environment["ALTO_TEST_ARTIFACTS"].map { URL(fileURLWithPath: $0) }
            ?? TestServers.packageRoot.appendingPathComponent(".build/test-artifacts")
        let screenshots = artifacts.appendingPathComponent("web-ui")
        try? FileManager.default.removeItem(at: screenshots)
        try FileManager.default.createDirectory(at: screenshots, withIntermediateDirectories: true)

        let run = UUID().uuidString.prefix(8).lowercased()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-ui-\(run)")
        let data = work.appendingPathComponent("data")
        let tier2 = work.appendingPathComponent("tier2")
        for folder in ["archive/2019", "archive/2020", "current"] {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true)
        var originals: [String: Data] = [:]
        for (name, size, old) in [("archive/2019/report.pdf", 3 << 20, true), ("archive/2019/survey.iso", 6 << 20, true),
                                  ("archive/2020/minutes.docx", 1 << 20, true), ("archive/2020/small.txt", 200, true),
                                  ("current/plan.xlsx", 2 << 20, false)] {
            let path = data.appendingPathComponent(name).path
            originals[path] = try ColdFile.write(path, size: size, cold: old)
        }
        let cold = originals.filter { $0.key.contains("/archive/") && $0.value.count >= 4096 }.keys.sorted()
        let recalled = cold[0]

        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor", "alto-sanitizer"],
                                           environment: ["ALTO_UI_DIR": interface.path, "ALTO_FLEET_GAUGES_SECONDS": "2"])
        try await suite.whileRunning {
            let customer: Created = try await suite.post("/api/v1/customers", ["name": "ui-\(suite.run)"])
            let host: Created = try await suite.post("/api/v1/customers/\(customer.id)/hosts", ["hostname": "fs-ui-\(suite.run)"])
            let _: Created = try await suite.post("/api/v1/storage-targets", ["name": "tier-2 folder", "kind": "filesystem",
                                                                              "location": tier2.path], customer: customer.id)
            var users: [String: [String: String]] = [:]
            for role in ["admin", "operator", "viewer"] {
                let email = "\(role)-\(suite.run)@example.com", password = "a long \(role) password \(suite.run)"
                let _: Created = try await suite.post("/api/v1/users", ["email": email, "password": password, "role": role],
                                                      customer: customer.id)
                users[role] = ["email": email, "password": password]
            }
            let token = try #require(host.agent_token)
            let agent = suite.agentEnvironment(customer: customer.id, host: host.id, token: token)
                .merging(["ALTO_AGENT_SCAN_ROOTS": data.path, "ALTO_AGENT_HEARTBEAT_SECONDS": "2"]) { _, new in new }
            try await suite.launch("alto-agent", arguments: ["run"], environment: agent)
            // A first scan with no rule yet, so the what-if has an inventory to count.
            let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["scan", data.path], environment: agent)
            #expect(status == 0, "\(output)")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the first scan is inventoried", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE deleted_at IS NULL") == originals.count
                }
            }

            let browser: [String: String] = [
                "ALTO_UI_URL": suite.apiURL,
                "ALTO_UI_ARTIFACTS": screenshots.path,
                "ALTO_UI_USERS": String(decoding: try JSONSerialization.data(withJSONObject: users), as: UTF8.self),
                "ALTO_UI_HOST_ID": host.id.uuidString.lowercased(),
                "ALTO_UI_DATA": data.path,
                "ALTO_UI_COLD_FILES": "\(cold.count)",
                "ALTO_UI_RECALL_PATH": recalled,
                "ALTO_UI_SCAN": String(decoding: try JSONSerialization.data(withJSONObject: [
                    ServiceProcess.binary("alto-agent").path, "scan", data.path]), as: UTF8.self),
                "SE_OFFLINE": "true",
            ]
            let script = TestServers.packageRoot.appendingPathComponent("Tests/Browser/web_ui_test.py").path
            let outcome = try await Command.run("python3", [script], environment: agent.merging(browser) { _, new in new },
                                                timeout: .seconds(420))
            let report = String(decoding: outcome.output, as: UTF8.self) + outcome.errors
            #expect(outcome.status == 0, "the browser test failed:\n\(report)\n\(suite.logs)")

            #expect(try Data(contentsOf: URL(fileURLWithPath: recalled)) == originals[recalled], "the recalled file is its original")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let stubs = try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed")
                let rules = try await RunningSuite.count(postgres, "SELECT count(*) FROM rules WHERE deleted_at IS NULL")
                let created = try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'rule.create'")
                let failed = try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action LIKE '% /api/v1/rules%' AND result = 'failed'")
                #expect(stubs == cold.count - 1, "every cold file but the recalled one is a stub")
                #expect(rules == 1, "the rule the operator saved, and only it")
                #expect(created == 1 && failed == 0, "the what-if left no failed change in the audit trail; the save its one row")
            }
            let shots = try FileManager.default.contentsOfDirectory(atPath: screenshots.path).filter { $0.hasSuffix(".png") }
            #expect(shots.count >= 15, "screenshots: \(shots.sorted())")
        }
        try? FileManager.default.removeItem(at: work)
        try? FileManager.default.removeItem(at: suite.work)
    }
}
