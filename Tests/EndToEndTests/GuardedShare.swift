#if canImport(Glibc)
import Glibc
#endif
import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation

/// A share as a file server has one: a folder with a mount of its own, the real stub guard watching it and an agent
/// beside it, a tier-2 folder and a rule that tiers everything below `cold/` a month after it changed. Files are
/// named by their bytes, so names that are not UTF-8 can be made; `path(_:)` gives the inventory's spelling.
struct GuardedShare {
    let suite: RunningSuite
    let root: URL
    let customer: UUID
    let environment: [String: String]
    /// The stub guard's keeper, unless the test runs the guard its own way.
    let keeper: ServiceProcess?

    struct Created: Decodable {
        var id: UUID
    }

    /// Mounts the share, makes `files` below it (their bytes random, modified long ago), enrols a host and starts
    /// the guard unless `startingGuard` is false; the agent is the caller's to start.
    static func make(_ suite: RunningSuite, files: [[UInt8]: Int], startingGuard: Bool = true,
                     extra: [String: String] = [:]) async throws -> (GuardedShare, [[UInt8]: Data]) {
        let root = suite.work.appendingPathComponent("share")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("cold"), withIntermediateDirectories: true)
        let mounted = try await Command.run("mount", ["--bind", root.path, root.path])
        guard mounted.status == 0 else { throw TestFailure("the share needs a mount of its own: \(mounted.errors)") }
        var originals: [[UInt8]: Data] = [:]
        for (name, size) in files {
            let content = Data((0..<size).map { _ in UInt8.random(in: 0...255) })
            if let slash = name.lastIndex(of: UInt8(ascii: "/")) {
                try FileManager.default.createDirectory(atPath: root.path + "/" + String(decoding: name[..<slash], as: UTF8.self),
                                                        withIntermediateDirectories: true)
            }
            try write(content, to: Array(root.path.utf8) + Array("/".utf8) + name)
            originals[name] = content
        }
        let (customer, host, token) = try await suite.enrol("guarded-\(suite.run)")
        let tier2 = suite.work.appendingPathComponent("tier2")
        try FileManager.default.createDirectory(at: tier2, withIntermediateDirectories: true)
        let target: Created = try await suite.post("/api/v1/storage-targets", ["name": "tier2", "kind": "filesystem", "location": tier2.path],
                                                   customer: customer)
        let _: Created = try await suite.post("/api/v1/rules", [
            "name": "cold", "priority": 1, "path_globs": ["\(root.path)/cold/**"], "min_days_since_modified": 30,
            "target_id": target.id.uuidString,
        ] as [String: any Sendable], customer: customer)
        let environment = suite.agentEnvironment(customer: customer, host: host, token: token, guarded: true).merging([
            "ALTO_AGENT_SCAN_ROOTS": root.path, "ALTO_AGENT_RECALL_WAIT_SECONDS": "1", "ALTO_AGENT_PREVIEW_BYTES": "0",
        ].merging(extra) { _, new in new }) { _, new in new }
        let keeper = startingGuard ? try suite.start("alto-agent", arguments: ["guard"], environment: environment) : nil
        let share = GuardedShare(suite: suite, root: root, customer: customer, environment: environment, keeper: keeper)
        if startingGuard {
            try await RunningSuite.waitUntil("the guard runs", timeout: .seconds(30)) { share.guardWorker() != nil }
        }
        return (share, originals)
    }

    /// The inventory's spelling of a file's path.
    func path(_ name: [UInt8]) -> String {
        PathEncoding.encode(Array(root.path.utf8) + Array("/".utf8) + name)
    }

    /// Scans the share and waits until `count` files are stubs.
    func scanAndTier(_ count: Int) async throws {
        let (status, output) = try await ServiceProcess.run("alto-agent", arguments: ["scan", root.path], environment: environment)
        guard status == 0 else { throw TestFailure("the scan failed: \(output)") }
        try await waitForStubs(count)
    }

    func waitForStubs(_ count: Int) async throws {
        try await TestServers.withPostgres(suite.databaseURL) { postgres in
            try await RunningSuite.waitUntil("\(count) files are stubs", timeout: .seconds(90)) {
                try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE is_stubbed") >= count
            }
        }
    }

    /// The guard proper: the keeper's one child.
    func guardWorker() -> Int32? {
        keeper.flatMap { ServiceProcess.children(of: $0.processIdentifier).first }
    }

    /// Reads a file as an unmodified program does (`cat`, as `user` when given), by its bytes.
    func read(_ name: [UInt8], as user: String? = nil) async throws -> Command.Outcome {
        let escaped = (Array(root.path.utf8) + Array("/".utf8) + name).map { String(format: "\\%03o", $0) }.joined()
        let command = "exec cat \"$(printf '\(escaped)')\""
        if let user { return try await Command.run("setpriv", ["--reuid=\(user)", "--regid=\(user)", "--clear-groups", "sh", "-c", command]) }
        return try await Command.run("sh", ["-c", command], timeout: .seconds(120))
    }

    /// Whether an outcome is one a reader may see: the original with success, or an error with nothing but a
    /// leading part of the original.
    static func failsClosed(_ outcome: Command.Outcome, original: Data) -> Bool {
        outcome.status == 0 ? outcome.output == original : original.starts(with: outcome.output)
    }

    private static func write(_ content: Data, to path: [UInt8]) throws {
        let descriptor = (path + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        }
        guard descriptor >= 0 else { throw TestFailure("cannot create \(PathEncoding.encode(path))") }
        defer { close(descriptor) }
        guard content.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress, $0.count) }) == content.count else {
            throw TestFailure("cannot write \(PathEncoding.encode(path))")
        }
        var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
        futimens(descriptor, &times)
    }

    func unmount() {
        _ = try? Command.runBlocking("umount", ["-l", root.path])
    }
}
