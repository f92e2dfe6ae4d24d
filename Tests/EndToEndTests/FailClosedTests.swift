#if canImport(Glibc)
import Glibc
#endif
import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// The file server side as it fails in production, seen by a user's program: a read of a stub gets the original
/// bytes or an error, never other bytes with success, whichever part of Alto was killed; concurrent readers share
/// one recall; a user cannot make the root agent read a file for them, nor steer it outside the managed roots.
@Suite(.serialized, .timeLimit(.minutes(8))) struct FailClosedTests {
    static func name(_ text: String) -> [UInt8] { Array("cold/\(text)".utf8) }

    @Test func readersNeverSeeZerosWhenTheGuardOrTheAgentIsKilled() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let names = (0..<6).map { Self.name("plan \($0).bin") }
        let (share, originals) = try await GuardedShare.make(suite, files: Dictionary(uniqueKeysWithValues: names.map { ($0, 1 << 20) }))
        defer { share.unmount() }
        try await suite.whileRunning {
            let agent = try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            try await share.scanAndTier(names.count)

            for round in 0..<2 {
                let killed = try #require(share.guardWorker())
                kill(killed, SIGKILL)
                let read = try await share.read(names[round])
                #expect(read.status == 0, "a reader waits for the restarted guard: \(read.errors)")
                #expect(GuardedShare.failsClosed(read, original: originals[names[round]]!), "round \(round): the original bytes or an error")
                #expect(share.guardWorker() != killed, "the keeper restarted the guard")
            }

            await agent.crash()
            let withoutAgent = try await share.read(names[2])
            #expect(withoutAgent.status != 0, "with the agent killed the read fails")
            #expect(GuardedShare.failsClosed(withoutAgent, original: originals[names[2]]!))

            kill(try #require(share.guardWorker()), SIGKILL)
            let bothGone = try await share.read(names[3])
            #expect(bothGone.status != 0, "with the agent and the guard killed the read fails")
            #expect(GuardedShare.failsClosed(bothGone, original: originals[names[3]]!))

            try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            for name in names[2...] {
                let read = try await share.read(name)
                #expect(read.status == 0 && read.output == originals[name], "the restarted agent recalls again: \(read.errors)")
            }
        }
    }

    @Test func aReadTheKilledGuardHeldFailsInsteadOfReadingZeros() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let names = [Self.name("held 1.bin"), Self.name("held 2.bin")]
        let (share, originals) = try await GuardedShare.make(suite, files: Dictionary(uniqueKeysWithValues: names.map { ($0, 1 << 20) }),
                                                             extra: ["ALTO_AGENT_RECALL_WAIT_SECONDS": "60"])
        defer { share.unmount() }
        try await suite.whileRunning {
            let agent = try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            try await share.scanAndTier(names.count)
            await agent.crash()
            async let held = share.read(names[0])
            try await Task.sleep(for: .seconds(2))
            kill(try #require(share.guardWorker()), SIGKILL)
            let read = try await held
            #expect(read.status != 0, "the read the killed guard held fails at once")
            #expect(GuardedShare.failsClosed(read, original: originals[names[0]]!))
            let keeper = try #require(share.keeper)
            try await RunningSuite.waitUntil("the keeper says it failed the one read the dead guard had taken", timeout: .seconds(10)) {
                keeper.log.contains("failed_reads=1")
            }
            try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            for name in names {
                let again = try await share.read(name)
                #expect(again.status == 0 && again.output == originals[name], "\(again.errors)")
            }
        }
    }

    @Test func theWatchOutlivesItsKeeperWhereTheServiceManagerKeepsItsGroup() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let names = [Self.name("kept 1.bin"), Self.name("kept 2.bin")]
        let (share, originals) = try await GuardedShare.make(suite, files: Dictionary(uniqueKeysWithValues: names.map { ($0, 1 << 20) }),
                                                             startingGuard: false)
        defer { share.unmount() }
        let folder = suite.work.appendingPathComponent("service-manager")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let manager = try ServiceManagerStandIn(folder: folder, executable: ServiceProcess.binary("alto-agent").path,
                                                environment: ProcessInfo.processInfo.environment.merging(share.environment) { _, new in new })
        defer { manager.stop() }
        try await manager.waitFor("ready-1")
        try await suite.whileRunning {
            try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            try await share.scanAndTier(names.count)
            manager.tell("kill")
            try await manager.waitFor("killed")
            let read = try await share.read(names[0])
            #expect(read.status == 0 && read.output == originals[names[0]],
                    "with the keeper and the guard killed, the read waits in the kept group and gets the original: \(read.errors)")
            try await manager.waitFor("ready-2")
        }
    }

    @Test func twoReadersOfOneStubBothGetTheOriginal() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let names = (0..<100).map { Self.name("drawing \($0).dwg") }
        let (share, originals) = try await GuardedShare.make(suite, files: Dictionary(uniqueKeysWithValues: names.map { ($0, 256 << 10) }))
        defer { share.unmount() }
        try await suite.whileRunning {
            try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            try await share.scanAndTier(names.count)
            for name in names {
                async let first = share.read(name)
                async let second = share.read(name)
                for read in try await [first, second] {
                    #expect(read.status == 0 && read.output == originals[name], "\(share.path(name)): \(read.errors)")
                }
            }
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every recall is registered once", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'recalled'") == names.count
                }
            }
        }
    }

    @Test func usersCannotTurnTheAgentAgainstTheHost() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let latin1 = Self.name("caf") + [0xE9] + Array(" menu.pdf".utf8)
        let swapped = Self.name("projects/report.bin")
        let (share, originals) = try await GuardedShare.make(suite, files: [latin1: 300 << 10, swapped: 200 << 10])
        defer { share.unmount() }
        let secret = suite.work.appendingPathComponent("agent-token.txt")
        try Data("the agent's token, readable by root only".utf8).write(to: secret)
        chmod(secret.path, 0o600)
        let outside = suite.work.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let victim = outside.appendingPathComponent("report.bin")
        try originals[swapped]!.write(to: victim)
        var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, victim.path, &times, 0)

        try await suite.whileRunning {
            chmod(suite.work.path, 0o711)
            chmod(share.root.path, 0o755)
            let users = share.root.appendingPathComponent("users")
            try FileManager.default.createDirectory(at: users, withIntermediateDirectories: true)
            chmod(users.path, 0o1777)
            let forged = users.appendingPathComponent("forged.bin").path
            let record = #"{"version":1,"location":"\#(secret.path)","hash":"sha256:\#(String(repeating: "0", count: 64))","size":41,"tiered_at":"2020-01-01T00:00:00Z"}"#
            let forging = try await Command.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", """
                import os, sys
                open(sys.argv[1], 'wb').write(b'\\0' * 41)
                os.setxattr(sys.argv[1], 'user.alto.stub', sys.argv[2].encode())
                try:
                    os.setxattr(sys.argv[1], 'trusted.alto.stub', sys.argv[2].encode())
                    print('trusted written')
                except PermissionError:
                    print('trusted refused')
                """, forged, record])
            #expect(forging.status == 0, "\(forging.errors)")
            #expect(String(decoding: forging.output, as: UTF8.self).contains("trusted refused"), "only root writes trusted.*")

            let agent = try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            let read = try await share.read(Array("users/forged.bin".utf8), as: "65534")
            #expect(read.status == 0)
            #expect(read.output == Data(count: 41), "the user reads their own bytes and nothing of the root-only file")
            let recall = try await Command.run("alto-agent", ["recall", forged], environment: share.environment)
            #expect(recall.status != 0, "a forged record is not a stub to recall")
            #expect(try Data(contentsOf: URL(fileURLWithPath: forged)) == Data(count: 41))
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("a security event is in the audit trail", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE action = 'security.stub_record'") >= 1
                }
            }

            #expect(await agent.terminate() == 0)
            let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["scan", share.root.path], environment: share.environment)
            #expect(status == 0, "\(output)")
            let projects = share.root.appendingPathComponent("cold/projects")
            try FileManager.default.moveItem(at: projects, to: share.root.appendingPathComponent("cold/projects.scanned"))
            try FileManager.default.createSymbolicLink(at: projects, withDestinationURL: outside)
            try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment)
            try await share.waitForStubs(1)
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the swapped file's outcome is recorded", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, """
                        SELECT count(*) FROM tiering_job_files WHERE file_path = '\(share.path(swapped))' AND state <> 'pending'
                        """) == 1
                }
            }
            #expect(try StubFile.record(at: victim.path) == nil, "the file outside the root is no stub")
            #expect(try Data(contentsOf: victim) == originals[swapped], "and is untouched")

            let recalled = try await share.read(latin1)
            #expect(recalled.status == 0 && recalled.output == originals[latin1], "a name that is not UTF-8 is tiered and recalled")
        }
    }
}
