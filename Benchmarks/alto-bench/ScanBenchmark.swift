import Foundation

/// `alto-bench scan`: the agent's scan, writing zstd CSV batches, against `find -printf` printing the same
/// fields, on the same warm tree, alternating, best of each.
struct ScanBenchmark {
    let tree: String
    let files: Int
    let rounds: Int
    let binaries: String

    func run() throws {
        try TreeGenerator.ensure(root: tree, files: files)
        let output = FileManager.default.temporaryDirectory.path + "/alto-bench-scan-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let findArguments = [tree, "-printf", "%p,%s,%T@,%A@,%m,%u\\n"]
        _ = try MeasuredProcess.run("find", findArguments)
        var findBest = Double.infinity
        var agentBest = Double.infinity
        var agentPeak = 0.0
        for round in 1...rounds {
            let find = try MeasuredProcess.run("find", findArguments)
            try? FileManager.default.removeItem(atPath: output)
            let agent = try MeasuredProcess.run(binaries + "/alto-agent", ["scan", tree, "--output", output],
                                                output: output + ".log")
            findBest = min(findBest, find.seconds)
            agentBest = min(agentBest, agent.seconds)
            agentPeak = max(agentPeak, agent.peakMiB)
            print(String(format: "round %d: find %.2f s, alto-agent %.2f s", round, find.seconds, agent.seconds))
        }
        let findRate = Double(files) / findBest
        let agentRate = Double(files) / agentBest
        print("""
            scan of \(files) files (warm tree, \(ProcessInfo.processInfo.activeProcessorCount) cores, best of \(rounds))
              find -printf '%p,%s,%T@,%A@,%m,%u\\n'   \(Self.rate(findRate)) files/s
              alto-agent scan (zstd CSV batches)    \(Self.rate(agentRate)) files/s
              ratio alto-agent / find              \(String(format: "%.2f", agentRate / findRate))x
              alto-agent peak memory               \(String(format: "%.1f", agentPeak)) MiB
            """)
    }

    static func rate(_ value: Double) -> String {
        String(format: "%10.0f", value)
    }
}
