import AltoKeys
import AltoModels
import AltoTiering
import Foundation

/// Tiering to the filesystem target through the agent's own engine (`FileTierer`: checks, one read while hashing,
/// sealing with a tenant data key from the local key provider as the agent does by default, fsync of copy and
/// folder, read-back from the device, stub), files in parallel as the agent runs them, against
/// the same data copied and hashed by `tee >(openssl dgst -sha256)` and copied alone by `cp` (the disk's ceiling),
/// each followed by `sync`. Caches are dropped before each side, where the kernel allows it.
struct TierBenchmark {
    let work: String
    let largeFiles: Int
    let largeBytes: Int
    let smallFiles: Int
    let smallBytes: Int
    let parallel: Int

    func run() async throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        print("tier: \(largeFiles) files of \(largeBytes >> 20) MiB, then \(smallFiles) files of \(smallBytes >> 10) KiB; "
              + "\(parallel) files at once; filesystem target on the same disk")
        try await measure("large", files: largeFiles, bytes: largeBytes)
        try await measure("small", files: smallFiles, bytes: smallBytes)
    }

    private func measure(_ name: String, files: Int, bytes: Int) async throws {
        let source = work + "/\(name)"
        let generated = try generate(source, files: files, bytes: bytes)
        let total = Double(files * bytes)

        let cp = try shell("cp -r '\(source)' '\(work)/\(name)-cp' && sync")
        let tee = try shell("""
            mkdir -p '\(work)/\(name)-tee' && cd '\(source)' && for f in *; do \
            tee >(openssl dgst -sha256 > /dev/null) < "$f" > '\(work)/\(name)-tee/'"$f"; done && sync
            """)
        try? FileManager.default.removeItem(atPath: "\(work)/\(name)-cp")
        try? FileManager.default.removeItem(atPath: "\(work)/\(name)-tee")

        let tier2 = work + "/\(name)-tier2"
        try FileManager.default.createDirectory(atPath: tier2, withIntermediateDirectories: true)
        let tenant = UUID()
        let keys = LocalKeyProvider(folder: URL(fileURLWithPath: work + "/keys"))
        let dataKey = try await keys.generateDataKey(tenant: tenant)
        var options = FileTierer.Options()
        options.sealing = FileTierer.Sealing(key: dataKey.key, encryption: StubRecord.Encryption(provider: keys.name, wrappedKey: dataKey.wrapped))
        let tierer = FileTierer(store: FilesystemStore(root: tier2),
                                target: StorageTargetReference(id: UUID(), kind: .filesystem, location: tier2),
                                customerID: tenant, hostID: UUID(), paths: ConfinedPaths(roots: [work]), options: options)
        Self.dropCaches()
        let started = ContinuousClock.now
        var tiered = 0
        await withTaskGroup(of: AgentResult.File.self) { group in
            var inFlight = 0
            for file in generated {
                if inFlight == parallel, let outcome = await group.next() {
                    inFlight -= 1
                    if outcome.outcome == .tiered { tiered += 1 }
                }
                group.addTask { await tierer.tier(file) }
                inFlight += 1
            }
            for await outcome in group where outcome.outcome == .tiered { tiered += 1 }
        }
        let alto = (ContinuousClock.now - started) / .seconds(1)
        guard tiered == files else { throw BenchError("only \(tiered) of \(files) files were tiered") }

        func line(_ label: String, _ seconds: Double) -> String {
            "  " + label.padding(toLength: 36, withPad: " ", startingAt: 0)
                + String(format: "%7.2f s  %8.1f MB/s  %9.0f files/s", seconds, total / seconds / 1e6, Double(files) / seconds)
        }
        print("\(name) files, \(String(format: "%.2f", total / 1e9)) GB:")
        print(line("alto (encrypt, verify, fsync, stub)", alto))
        print(line("tee >(openssl dgst -sha256) + sync", tee))
        print(line("cp + sync (disk ceiling)", cp))
        print(String(format: "  ratio: %.2f× the tee+openssl pipeline, %.2f× cp", tee / alto, cp / alto))
    }

    private func generate(_ folder: String, files: Int, bytes: Int) throws -> [TieringJob.File] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var generator = SeededRandom(seed: UInt64(bytes))
        var block = [UInt8](repeating: 0, count: min(bytes, 1 << 20))
        var jobFiles: [TieringJob.File] = []
        for index in 0..<files {
            let path = folder + "/file-\(index).bin"
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw BenchError("cannot write \(path)")
            }
            var written = 0
            while written < bytes {
                for offset in stride(from: 0, to: block.count, by: 8) {
                    withUnsafeBytes(of: generator.next()) { word in
                        for byte in 0..<min(8, block.count - offset) { block[offset + byte] = word[byte] }
                    }
                }
                let count = min(block.count, bytes - written)
                handle.write(Data(block[0..<count]))
                written += count
            }
            try handle.close()
            var info = stat()
            stat(path, &info)
            let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1000) / 1e6)
            jobFiles.append(TieringJob.File(fileID: Int64(index + 1), filePath: path, fileSize: Int64(bytes), lastModified: modified))
        }
        _ = try shell("sync")
        return jobFiles
    }

    /// Runs a bash command after dropping caches and returns its wall-clock seconds.
    private func shell(_ command: String) throws -> Double {
        Self.dropCaches()
        return try MeasuredProcess.run("/bin/bash", ["-c", command]).seconds
    }

    static func dropCaches() {
        sync()
        try? "3".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)
    }
}
