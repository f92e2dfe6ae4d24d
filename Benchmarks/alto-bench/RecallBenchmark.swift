import AltoModels
import AltoTiering
import Foundation

/// How long a reader waits for the first byte of a 1 MiB stub that the fanotify driver recalls from the filesystem
/// target (guard, agent, copy read and hashed, file filled and fsynced), beside the same open()+read() of an
/// ordinary 1 MiB file, both with cold caches.
struct RecallBenchmark {
    let work: String
    let files: Int
    let postgresURL: String
    let amqpURL: String
    let rabbitmqctl: String?

    func run() async throws {
        let share = work + "/share"
        let tier2 = work + "/tier2"
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: share, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tier2, withIntermediateDirectories: true)
        _ = try MeasuredProcess.run("/bin/mount", ["--bind", share, share])
        var services: [MeasuredProcess] = []
        defer {
            for service in services { _ = service.terminate() }
            _ = try? MeasuredProcess.run("/bin/umount", ["-l", share])
            try? FileManager.default.removeItem(atPath: work)
        }

        let plain = work + "/plain"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        let tierer = FileTierer(store: FilesystemStore(root: tier2),
                                target: StorageTargetReference(id: UUID(), kind: .filesystem, location: tier2),
                                customerID: UUID(), hostID: UUID(), paths: ConfinedPaths(roots: [share]))
        var stubs: [String] = []
        for index in 0..<files {
            let content = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) })
            let path = share + "/document \(index).bin"
            try content.write(to: URL(fileURLWithPath: path))
            try content.write(to: URL(fileURLWithPath: plain + "/document \(index).bin"))
            var info = stat()
            stat(path, &info)
            let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1000) / 1e6)
            let outcome = await tierer.tier(TieringJob.File(fileID: Int64(index + 1), filePath: path, fileSize: 1 << 20, lastModified: modified))
            guard outcome.outcome == .tiered else { throw BenchError("could not make a stub: \(outcome.reason ?? "")") }
            stubs.append(path)
        }

        // A vhost of its own: the agent reports its recalls, and they must not land on anyone else's results queue.
        let bench = try BenchEnvironment(name: "recall", postgresURL: postgresURL, amqpURL: amqpURL, rabbitmqctl: rabbitmqctl, keepWork: false)
        defer { bench.close() }
        let environment = bench.common.merging(["ALTO_CUSTOMER_ID": UUID().uuidString, "ALTO_HOST_ID": UUID().uuidString,
                           "ALTO_AGENT_STATE_DIR": work + "/state", "ALTO_AGENT_SCAN_ROOTS": share, "ALTO_AGENT_START_GUARD": "false",
                           "ALTO_HTTP_PORT": "0", "ALTO_LOG_LEVEL": "warning", "ALTO_AGENT_RECALLS_PER_SECOND": "10000",
                           "ALTO_API_URL": "http://127.0.0.1:1"]) { _, new in new }
        services.append(try MeasuredProcess(AltoBench.binaries + "/alto-agent", ["guard"], environment: environment,
                                            output: work + "/guard.log"))
        services.append(try MeasuredProcess(AltoBench.binaries + "/alto-agent", ["run"], environment: environment,
                                            output: work + "/agent.log"))
        try await Task.sleep(for: .seconds(3))
        guard (try? Data(contentsOf: URL(fileURLWithPath: stubs[0]), options: .alwaysMapped).count) == 1 << 20,
              (try? StubFile.record(at: stubs[0])) == nil
        else { throw BenchError("the agent did not recall on access; see \(work)/agent.log") }

        let recalled = stubs.dropFirst().map { path in firstByteLatency(path) }
        let baseline = (1..<files).map { firstByteLatency(plain + "/document \($0).bin") }
        print("recall: open()+read() to the first byte of a 1 MiB file, \(files - 1) files, cold caches")
        print(String(format: "  stub recalled on access:  median %6.2f ms  p99 %6.2f ms", percentile(recalled, 0.5), percentile(recalled, 0.99)))
        print(String(format: "  ordinary file (baseline): median %6.2f ms  p99 %6.2f ms", percentile(baseline, 0.5), percentile(baseline, 0.99)))
    }

    /// Milliseconds from open() to the first byte read, caches dropped first.
    private func firstByteLatency(_ path: String) -> Double {
        TierBenchmark.dropCaches()
        let started = ContinuousClock.now
        let descriptor = open(path, O_RDONLY)
        var byte: UInt8 = 0
        _ = read(descriptor, &byte, 1)
        let elapsed = (ContinuousClock.now - started) / .milliseconds(1)
        close(descriptor)
        return elapsed
    }

    private func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }
}
