import AltoTestSupport
import Foundation
import Testing

/// The audit trail as an auditor uses it: `alto-api audit verify` passes on the trail the API wrote and names the
/// row a database administrator edited behind its back, and `alto-api audit export` delivers the records to a
/// syslog collector (Debian's rsyslog, started by the test on loopback) over TCP and UDP.
@Suite(.timeLimit(.minutes(5))) struct AuditTrailTests {
    @Test func verifyFindsTamperingAndASyslogCollectorGetsTheRecords() async throws {
        let auditKey = "audit-trail-tests-key-of-forty-characters"
        let suite = try await RunningSuite(["alto-api"], environment: ["ALTO_AUDIT_KEY": auditKey])
        try await suite.whileRunning {
            let (customer, _, _) = try await suite.enrol("audit-\(suite.run)")
            struct Created: Decodable { var id: UUID }
            let target: Created = try await suite.post("/api/v1/storage-targets",
                                                       ["name": "tier2", "kind": "filesystem", "location": "/srv/tier2"], customer: customer)
            for index in 0..<3 {
                let _: Created = try await suite.post("/api/v1/rules", ["name": "rule \(index)", "priority": index + 1,
                                                                        "target_id": target.id.uuidString], customer: customer)
            }
            _ = try await suite.send("POST", suite.apiURL + "/api/v1/sessions", body: Data(#"{"email":"nobody@example.com","password":"wrong"}"#.utf8),
                                     headers: ["Content-Type": "application/json"])

            let (intact, report) = try await ServiceProcess.run("alto-api", arguments: ["audit", "verify"], environment: suite.environment)
            #expect(intact == 0, "\(report)")
            #expect(report.contains("\"checked_rows\" : 7"), "\(report)")
            let (wrongKey, _) = try await ServiceProcess.run("alto-api", arguments: ["audit", "verify"],
                                                       environment: suite.environment.merging(["ALTO_AUDIT_KEY": "a-guessed-audit-key-of-forty-characters"]) { _, n in n })
            #expect(wrongKey == 1, "without the chain's key nothing checks out")

            // The collector: rsyslog listening on loopback, writing each message as received.
            let received = suite.work.appendingPathComponent("received.log")
            let config = suite.work.appendingPathComponent("rsyslog.conf")
            let port = PeerServer.freePort()
            try """
                global(workDirectory="\(suite.work.path)")
                module(load="imtcp")
                module(load="imudp")
                input(type="imtcp" address="127.0.0.1" port="\(port)")
                input(type="imudp" address="127.0.0.1" port="\(port)")
                template(name="asReceived" type="string" string="%rawmsg%\\n")
                *.* action(type="omfile" file="\(received.path)" template="asReceived")
                """.write(to: config, atomically: true, encoding: .utf8)
            let collector = try await PeerServer(["rsyslogd", "-n", "-f", config.path, "-i", suite.work.appendingPathComponent("rsyslog.pid").path],
                                                 name: "rsyslogd", logFolder: suite.work, port: port)
            defer { collector.stop() }
            let (tcp, tcpOutput) = try await ServiceProcess.run("alto-api", arguments: ["audit", "export", "--format", "syslog", "--syslog", "tcp://127.0.0.1:\(port)"],
                                                          environment: suite.environment)
            #expect(tcp == 0, "\(tcpOutput)")
            let (udp, udpOutput) = try await ServiceProcess.run("alto-api", arguments: ["audit", "export", "--format", "syslog", "--syslog", "udp://127.0.0.1:\(port)",
                                                                                    "--customer", customer.uuidString],
                                                          environment: suite.environment)
            #expect(udp == 0, "\(udpOutput)")
            var lines: [String] = []
            try await RunningSuite.waitUntil("rsyslog wrote what it received", timeout: .seconds(20)) {
                lines = ((try? String(contentsOf: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                return lines.count >= 7 + 5
            }
            #expect(lines.filter { $0.contains("rule.create") }.count == 6, "three rules, over TCP and again over UDP")
            #expect(lines.contains { $0.contains("session.login") && $0.contains("result=\"failed\"") })
            #expect(lines.allSatisfy { $0.hasPrefix("<110>1 ") && $0.contains("[alto@32473 ") && $0.contains("hash=\"") }, "\(lines.first ?? "")")

            // A database administrator edits a row with the trigger switched off; verify names it.
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await postgres.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", logger: TestServers.logger)
                try await postgres.query("UPDATE audit_log SET actor = 'someone else' WHERE action = 'rule.create' AND target LIKE 'rule/%' AND seq = 3", logger: TestServers.logger)
                try await postgres.query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only", logger: TestServers.logger)
            }
            let (tampered, findings) = try await ServiceProcess.run("alto-api", arguments: ["audit", "verify"], environment: suite.environment)
            #expect(tampered == 1)
            #expect(findings.contains("its fields were changed after it was written"), "\(findings)")
        }
    }
}
