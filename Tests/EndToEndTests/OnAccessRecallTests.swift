import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import PostgresNIO
import Testing

/// Transparent recall by the fanotify driver, with the whole suite running: unmodified programs read stubs and get
/// the original bytes; a scanning program gets an error and recalls nothing; a read inside the resident preview
/// recalls nothing; with the agent stopped a read fails instead of returning the stub's hole as zeros.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OnAccessRecallTests {
    struct Created: Decodable {
        var id: UUID
    }

    func shell(_ command: String, _ arguments: [String]) async throws -> Command.Outcome {
        try await Command.run(command, arguments)
    }

    @Test func programsReadStubsTransparently() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let data = suite.work.appendingPathComponent("share")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("old projects"), withIntermediateDirectories: true)
        #expect(try await shell("mount", ["--bind", data.path, data.path]).status == 0, "the share needs a mount of its own")
        defer { _ = try? Command.runBlocking("umount", ["-l", data.path]) }

        var generated: [String: Data] = [:]
        for name in ["plan é 1.bin", "plan 2.bin", "plan 3.bin", "plan 4.bin", "plan 5.bin", "plan 6.bin"] {
            let path = data.appendingPathComponent("old projects/\(name)").path
            let content = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) })
            try content.write(to: URL(fileURLWithPath: path))
            var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
            generated[path] = content
        }
        let originals = generated
        let stubs = originals.keys.sorted()
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("onaccess-\(suite.run)")
            let target: Created = try await suite.post("/api/v1/storage-targets", [
                "name": "tier2", "kind": "filesystem", "location": suite.work.appendingPathComponent("tier2").path,
            ], customer: customer)
            try FileManager.default.createDirectory(at: suite.work.appendingPathComponent("tier2"), withIntermediateDirectories: true)
            let _: Created = try await suite.post("/api/v1/rules", [
                "name": "old projects", "priority": 1, "path_globs": ["\(data.path)/old projects/**"],
                "min_days_since_modified": 30, "target_id": target.id.uuidString,
            ] as [String: any Sendable], customer: customer)

            let environment = suite.agentEnvironment(customer: customer, host: host, token: token, guarded: true).merging([
                "ALTO_AGENT_SCAN_ROOTS": data.path, "ALTO_AGENT_SCANNER_PROGRAMS": "sha1sum",
                "ALTO_AGENT_RECALL_WAIT_SECONDS": "1", "ALTO_AGENT_PREVIEW_BYTES": "4096", "ALTO_AGENT_PREVIEW_PROGRAMS": "dd",
            ]) { _, new in new }
            try suite.start("alto-agent", arguments: ["guard"], environment: environment)
            let agent = try await suite.launch("alto-agent", arguments: ["run"], environment: environment)
            let (scanStatus, scanOutput) = try await ServiceProcess.run("alto-agent", arguments: ["scan", data.path], environment: environment)
            #expect(scanStatus == 0, "\(scanOutput)")

            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("the files are stubs", timeout: .seconds(60)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == stubs.count
                }
                for path in stubs { #expect(try StubFile.record(at: path) != nil, "\(path) is a stub") }

                let cat = try await shell("cat", [stubs[0]])
                #expect(cat.status == 0, "\(cat.errors)")
                #expect(cat.output == originals[stubs[0]], "cat reads the original bytes")
                #expect(try StubFile.record(at: stubs[0]) == nil, "the read recalled the file")
                let sum = try await shell("sha256sum", [stubs[1]])
                #expect(String(decoding: sum.output, as: UTF8.self).hasPrefix(ContentHash.of(originals[stubs[1]]!).dropFirst(7)))
                let copy = suite.work.appendingPathComponent("copied.bin").path
                #expect(try await shell("cp", [stubs[2], copy]).status == 0)
                #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == originals[stubs[2]])
                try await RunningSuite.waitUntil("the registry knows of the three recalls", timeout: .seconds(30)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM stub_registry WHERE state = 'recalled'") == 3
                }
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") == 3)

                let scanner = try await shell("sha1sum", [stubs[3]])
                #expect(scanner.status != 0, "a scanning program gets an error")
                #expect(scanner.errors.contains("not permitted"), "\(scanner.errors)")
                #expect(try StubFile.record(at: stubs[3]) != nil, "and recalls nothing")

                let preview = try await shell("dd", ["if=\(stubs[4])", "bs=100", "count=1", "status=none"])
                #expect(preview.output == originals[stubs[4]]!.prefix(100), "the preview is served from disk")
                #expect(try StubFile.record(at: stubs[4]) != nil, "without a recall")

                #expect(await agent.terminate() == 0)
                let stopped = try await shell("cat", [stubs[5]])
                #expect(stopped.status != 0, "with the agent stopped the read fails")
                #expect(stopped.errors.contains("Input/output error"), "\(stopped.errors)")
                #expect(!stopped.output.contains(where: { $0 != 0 }) || stopped.output.isEmpty || stopped.output == originals[stubs[5]]!.prefix(stopped.output.count),
                        "nothing but the original bytes")
                #expect(try StubFile.record(at: stubs[5]) != nil)

                try await suite.launch("alto-agent", arguments: ["run"], environment: environment)
                try await RunningSuite.waitUntil("the restarted agent recalls again", timeout: .seconds(30)) {
                    try await shell("cat", [stubs[5]]).output == originals[stubs[5]]
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
