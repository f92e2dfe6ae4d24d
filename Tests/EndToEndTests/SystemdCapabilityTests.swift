import AltoTestSupport
import AltoTiering
import Foundation
import Glibc
import Testing

/// The capabilities the systemd units give the stub guard and the agent are enough for their work: both run here
/// with exactly the units' `CapabilityBoundingSet` (read from the unit files) and no new privileges, on a share of
/// files another user owns and only that user may write; the files are scanned, tiered and read back through the
/// guard by their owner, byte for byte, and keep their owner, mode and times.
@Suite(.timeLimit(.minutes(5))) struct SystemdCapabilityTests {
    /// `setpriv` arguments that run a program with the unit's bounding set and nothing more.
    static func launcher(unit: String) throws -> [String] {
        let text = try String(contentsOf: TestServers.packageRoot.appendingPathComponent("systemd/\(unit)"), encoding: .utf8)
        let capabilities = text.split(separator: "\n").filter { $0.hasPrefix("CapabilityBoundingSet=") }
            .flatMap { $0.dropFirst("CapabilityBoundingSet=".count).split(separator: " ") }
            .map { "+" + $0.lowercased().replacingOccurrences(of: "cap_", with: "") }
        guard !capabilities.isEmpty else { throw TestFailure("\(unit) sets no CapabilityBoundingSet") }
        return ["/usr/bin/setpriv", "--bounding-set=-all," + capabilities.joined(separator: ","), "--inh-caps=-all",
                "--no-new-privs", "--"]
    }

    @Test func theUnitsCapabilitiesTierAndRecallAnotherUsersFiles() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest", "alto-planner", "alto-actor"])
        let names = (0..<4).map { Array("cold/owned-\($0).bin".utf8) }
        let (share, originals) = try await GuardedShare.make(suite, files: Dictionary(uniqueKeysWithValues: names.map { ($0, 96 << 10) }),
                                                             startingGuard: false)
        defer { share.unmount() }
        let owner = "65534"
        // Its owner reaches the files through folders root made; only the files are the owner's.
        for folder in [suite.work.path, share.root.path, share.root.path + "/cold"] { chmod(folder, 0o711) }
        for name in names {
            let path = share.root.path + "/" + String(decoding: name, as: UTF8.self)
            #expect(try await Command.run("chown", ["\(owner):\(owner)", path]).status == 0)
            #expect(try await Command.run("chmod", ["0600", path]).status == 0)
        }
        let before = try names.map { try FileManager.default.attributesOfItem(atPath: share.root.path + "/" + String(decoding: $0, as: UTF8.self)) }
        try await suite.whileRunning {
            let keeper = try suite.start("alto-agent", arguments: ["guard"], environment: share.environment,
                                         launcher: try Self.launcher(unit: "alto-stub-guard.service"))
            try await RunningSuite.waitUntil("the guard runs", timeout: .seconds(30)) {
                !ServiceProcess.children(of: keeper.processIdentifier).isEmpty
            }
            let agentLauncher = try Self.launcher(unit: "alto-agent.service")
            try await suite.launch("alto-agent", arguments: ["run"], environment: share.environment, launcher: agentLauncher)
            let scan = try await Command.run(agentLauncher[0], Array(agentLauncher.dropFirst())
                                                 + [ServiceProcess.binary("alto-agent").path, "scan", share.root.path],
                                             environment: share.environment)
            #expect(scan.status == 0, "\(scan.errors)")
            try await share.waitForStubs(names.count)
            for name in names {
                let path = share.root.path + "/" + String(decoding: name, as: UTF8.self)
                #expect(try StubFile.record(at: path) != nil, "\(path) is a stub")
                let read = try await share.read(name, as: owner)
                #expect(read.status == 0 && read.output == originals[name], "its owner reads \(path) whole through the guard: \(read.errors)")
            }
            for (index, name) in names.enumerated() {
                let after = try FileManager.default.attributesOfItem(atPath: share.root.path + "/" + String(decoding: name, as: UTF8.self))
                for key in [FileAttributeKey.ownerAccountID, .groupOwnerAccountID, .posixPermissions, .modificationDate, .size] {
                    #expect("\(after[key] ?? "")" == "\(before[index][key] ?? "")", "\(key.rawValue) of \(String(decoding: name, as: UTF8.self))")
                }
            }
        }
    }
}
