import Foundation
import Glibc

/// Results the agent has not yet seen the broker confirm, one envelope per file in `ALTO_AGENT_STATE_DIR/results`,
/// written durably (a temporary name, fsync, rename, fsync of the folder) before anyone is told the work is done,
/// and removed only once the broker confirmed it. Names sort in the order results were made, so they are sent in
/// that order; several processes of one host (the agent, `alto-agent recall`) may add to it at once.
struct ResultSpool: Sendable {
    let folder: String

    /// One spooled result: its file name and the envelope as it is sent.
    struct Entry: Sendable {
        var name: String
        var messageID: String
        var body: [UInt8]
    }

    /// Keeps `body` on disk under `messageID`.
    func append(_ body: [UInt8], messageID: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let name = String(format: "%010ld%09ld", now.tv_sec, now.tv_nsec) + "-\(getpid())-\(messageID).json"
        let partial = folder + "/." + name + ".partial"
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AgentError("cannot spool a result in \(folder): \(String(cString: strerror(errno)))") }
        let written = body.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == body.count, synced, rename(partial, folder + "/" + name) == 0 else {
            unlink(partial)
            throw AgentError("cannot spool a result in \(folder): \(String(cString: strerror(errno)))")
        }
        let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// What is waiting, oldest first.
    func pending() -> [Entry] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
        return names.sorted().compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder + "/" + name) else { return nil }
            let messageID = String(name.dropLast(5).split(separator: "-", maxSplits: 2).last ?? "")
            return Entry(name: name, messageID: messageID, body: Array(data))
        }
    }

    /// Deletes what processes that died while spooling left half-written (never renamed into place, never sent);
    /// a writer still alive (`alto-agent recall` beside the agent) keeps its own.
    func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        for name in names where name.hasPrefix(".") && name.hasSuffix(".partial") {
            let parts = name.dropFirst().split(separator: "-")
            guard parts.count > 2, let writer = Int32(parts[1]), writer != getpid(), kill(writer, 0) != 0, errno == ESRCH else { continue }
            unlink(folder + "/" + name)
        }
    }

    func remove(_ entry: Entry) {
        unlink(folder + "/" + entry.name)
    }
}
