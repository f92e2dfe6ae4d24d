import AltoCompression
import AltoModels
import AltoTestSupport
import Foundation
import Testing

/// What hostile uploads cost `alto-api`: decompression bombs a bounded amount of memory each, slow and stalled
/// clients nothing of the database, so signing in keeps answering while they go on.
@Suite(.timeLimit(.minutes(5))) struct UploadLimitTests {
    @Test func tenDecompressionBombsAtOnceAreEachRefusedAndTheAPIStaysSmall() async throws {
        let suite = try await RunningSuite(["alto-api"], environment: ["ALTO_API_UPLOADS_PER_HOST": "10"])
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("bombs-\(suite.run)")
            // Each expands to 1.25 GiB of valid CSV rows, past the 1 GiB a batch may become.
            let bombs = [try Self.bomb(.zstd, expandingTo: 5 << 28), try Self.bomb(.gzip, expandingTo: 5 << 28)]
            let api = try #require(suite.service("alto-api"))
            let before = try Self.memory(of: api.pid)
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<10 {
                    let (format, body) = index.isMultiple(of: 2) ? (IngestJob.Compression.zstd, bombs[0]) : (.gzip, bombs[1])
                    group.addTask {
                        try await suite.send(suite.apiURL + "/api/v1/scan-results", body: body, headers: [
                            "Authorization": "Bearer \(token)", "X-Alto-Customer-Id": customer.uuidString,
                            "X-Alto-Host-Id": host.uuidString, "Content-Type": "text/csv", "Content-Encoding": format.rawValue,
                        ])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let after = try Self.memory(of: api.pid)
            #expect(answers.count == 10)
            for (status, text) in answers {
                #expect(status == 413, "\(text)")
                #expect(text.contains("\"code\":\"too_large\""), "\(text)")
            }
            print("alto-api memory: \(before.current >> 20) MiB before ten bombs of \(bombs[0].count >> 10) and \(bombs[1].count >> 10) KiB,"
                  + " peak \(after.peak >> 20) MiB")
            #expect(after.peak < 256 << 20, "peak resident memory \(after.peak >> 20) MiB")
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let staged = try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.uploads")
                #expect(staged == 0, "nothing of a bomb is staged")
            }
        }
        try? FileManager.default.removeItem(at: suite.work)
    }

    @Test func twentySlowUploadsLeaveSignInAnsweringAndEachEndsIn408() async throws {
        let suite = try await RunningSuite(["alto-api"], environment: [
            "ALTO_API_UPLOAD_SECONDS": "15", "ALTO_API_UPLOAD_IDLE_SECONDS": "3", "ALTO_POSTGRES_MAX_CONNECTIONS": "4",
        ])
        try await suite.whileRunning {
            let (customer, firstHost, firstToken) = try await suite.enrol("slow-\(suite.run)")
            struct Created: Decodable {
                var id: UUID
                var agent_token: String?
            }
            var hosts = [(firstHost, firstToken)]
            for index in 1...10 {
                let host: Created = try await suite.post("/api/v1/customers/\(customer)/hosts", ["hostname": "fs-\(index)"], customer: customer)
                hosts.append((host.id, try #require(host.agent_token)))
            }
            let email = "operator-\(suite.run)@example.com"
            let _: Created = try await suite.post("/api/v1/users", ["email": email, "password": "a long enough password", "role": "operator"],
                                                  customer: customer)
            let port = try #require(URL(string: suite.apiURL)?.port)
            let body = Array((ScanCSV.header + String(repeating: "/srv/slow.txt,1,2025-01-01T00:00:00Z,,,0644,x,\n", count: 20)).utf8)
            let head: @Sendable (UUID, String) -> String = { host, token in
                "POST /api/v1/scan-results HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + "X-Alto-Customer-Id: \(customer)\r\nX-Alto-Host-Id: \(host)\r\nX-Alto-Batch-Id: \(UUID())\r\n"
                    + "Content-Type: text/csv\r\nContent-Length: \(body.count)\r\n\r\n"
            }
            let stalling = hosts.removeLast()
            let everyHost = hosts
            try await withThrowingTaskGroup(of: Int?.self) { group in
                for (host, token) in everyHost + everyHost {
                    group.addTask {
                        try await SlowUpload.send(port: port, head: head(host, token), body: body, interval: .seconds(1), timeout: .seconds(40))
                    }
                }
                // One that sends a little and then nothing.
                group.addTask {
                    try await SlowUpload.send(port: port, head: head(stalling.0, stalling.1), body: Array(body.prefix(50)),
                                              interval: .milliseconds(10), timeout: .seconds(40))
                }
                try await Task.sleep(for: .seconds(3))

                let third = try await suite.send(suite.apiURL + "/api/v1/scan-results", body: Data(body), headers: [
                    "Authorization": "Bearer \(firstToken)", "X-Alto-Customer-Id": customer.uuidString,
                    "X-Alto-Host-Id": firstHost.uuidString, "Content-Type": "text/csv",
                ])
                #expect(third.0 == 429, "a host has two uploads at most in progress: \(third.1)")
                #expect(third.1.contains("\"code\":\"too_many_uploads\""), "\(third.1)")

                let clock = ContinuousClock()
                for _ in 0..<5 {
                    var answer: (status: Int, token: String?) = (0, nil)
                    let took = try await clock.measure { answer = try await suite.signIn(email: email, password: "a long enough password") }
                    #expect(answer.token != nil, "signed in: \(answer.status)")
                    #expect(took < .seconds(1), "signing in took \(took) while twenty uploads crawl")
                    try await Task.sleep(for: .milliseconds(500))
                }
                let statuses = try await group.reduce(into: []) { $0.append($1) }
                #expect(statuses.count == 21)
                #expect(statuses.allSatisfy { $0 == 408 }, "every crawling or stalled upload is ended with 408: \(statuses)")
            }
            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                let staged = try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.uploads")
                #expect(staged == 0, "nothing of a crawling upload is staged")
            }
        }
        try? FileManager.default.removeItem(at: suite.work)
    }

    /// A compressed batch of valid rows that expands to `bytes`: a header, then one row again and again.
    static func bomb(_ format: IngestJob.Compression, expandingTo bytes: Int) throws -> Data {
        let compressor = try Compressor(format)
        var packed: [UInt8] = []
        compressor.compress(Array(ScanCSV.header.utf8), into: &packed)
        let row = Array("/srv/bomb.txt,1,2025-01-01T00:00:00Z,,,0644,x,\n".utf8)
        let piece = Array((0..<((1 << 20) / row.count)).map { _ in row }.joined())
        for _ in 0..<(bytes / piece.count) { compressor.compress(piece, into: &packed) }
        compressor.finish(into: &packed)
        return Data(packed)
    }

    /// The process's resident memory now and at its peak, from `/proc/<pid>/status`.
    static func memory(of pid: Int32) throws -> (current: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kilobytes(_ field: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) << 10
        }
        return (kilobytes("VmRSS"), kilobytes("VmHWM"))
    }
}
