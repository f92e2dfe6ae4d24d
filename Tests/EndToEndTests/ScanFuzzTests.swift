import AltoCompression
import AltoModels
import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// Hostile scan batches through the real API and ingest worker, from a fixed seed: rows whose fields are
/// anything an agent's file system or a forged agent could put there, bytes that are not CSV at all, and compressed
/// batches damaged in transit. No answer is a 5xx, nothing crashes, every staged batch is ingested, and every row
/// sent in a well-framed batch is either in the inventory or a reject with its reason.
@Suite(.timeLimit(.minutes(6))) struct ScanFuzzTests {
    static let seed: UInt64 = 20_261_202

    @Test func hostileBatchesAreAcceptedOrRejectedRowByRowAndNothingFails() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        try await suite.whileRunning {
            let (customer, host, token) = try await suite.enrol("fuzz-\(suite.run)")
            var random = SeededRandom(seed: Self.seed)
            var statuses: [Int: Int] = [:]
            var rowsSent = 0
            var rowBatches: [UUID] = []
            func upload(_ body: [UInt8], encoding: String? = nil) async throws -> (UUID, Int, String) {
                let batch = UUID()
                var headers = ["X-Alto-Customer-Id": customer.uuidString, "X-Alto-Host-Id": host.uuidString, "X-Alto-Batch-Id": batch.uuidString,
                               "X-Alto-Scan-Id": UUID().uuidString, "X-Alto-Full-Scan": "false", "Content-Type": "text/csv",
                               "Authorization": "Bearer \(token)"]
                if let encoding { headers["Content-Encoding"] = encoding }
                let (status, text) = try await suite.send(suite.apiURL + "/api/v1/scan-results", body: Data(body), headers: headers)
                statuses[status, default: 0] += 1
                #expect(status < 500, "a batch was answered \(status): \(text)")
                #expect(status == 202 || text.contains("\"error\""), "a refusal names its problem: \(text)")
                return (batch, status, text)
            }

            // Well-framed batches of hostile fields: each row is accepted or rejected, none lost.
            for batchIndex in 0..<24 {
                let rows = (0..<150).map { ScanFuzzRow.make(&random, index: batchIndex * 1000 + $0) }
                var body = Array(ScanCSV.header.utf8)
                for row in rows { body += row }
                let encoding = ["identity", "gzip", "zstd"][batchIndex % 3]
                let (batch, status, text) = try await upload(encoding == "identity" ? body : try Self.compress(body, encoding), encoding: encoding == "identity" ? nil : encoding)
                #expect(status == 202, "a well-framed batch is staged: \(text)")
                rowsSent += rows.count
                rowBatches.append(batch)
            }
            // Bytes that are not a scan: random, random with a header, a header and control characters.
            for index in 0..<24 {
                var body = index % 2 == 0 ? Array(ScanCSV.header.utf8) : []
                body += (0..<random.next(below: 4096)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                _ = try await upload(body)
            }
            // Compressed batches damaged in transit: bytes flipped, cut short, or with bytes inserted.
            for index in 0..<24 {
                let rows = (0..<40).map { ScanFuzzRow.make(&random, index: 100_000 + index * 100 + $0) }
                let encoding = index % 2 == 0 ? "gzip" : "zstd"
                var packed = try Self.compress(Array(ScanCSV.header.utf8) + rows.flatMap { $0 }, encoding)
                switch index % 3 {
                case 0:
                    for _ in 0..<(1 + random.next(below: 4)) { packed[random.next(below: packed.count)] ^= UInt8(1 + random.next(below: 255)) }
                case 1:
                    packed = Array(packed.prefix(random.next(below: packed.count)))
                default:
                    packed.insert(contentsOf: (0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: random.next(below: packed.count))
                }
                _ = try await upload(packed, encoding: encoding)
            }

            try await TestServers.withPostgres(suite.databaseURL) { postgres in
                try await RunningSuite.waitUntil("every staged batch is ingested", timeout: .seconds(120)) {
                    try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.uploads WHERE ingested_at IS NULL") == 0
                }
                let batches = rowBatches.map { "'\($0)'" }.joined(separator: ",")
                let accepted = try await RunningSuite.count(postgres, "SELECT coalesce(sum(accepted_rows), 0) FROM scan_staging.uploads WHERE batch_id IN (\(batches))")
                let rejected = try await RunningSuite.count(postgres, "SELECT coalesce(sum(rejected_rows), 0) FROM scan_staging.uploads WHERE batch_id IN (\(batches))")
                #expect(accepted + rejected == rowsSent, "every row is accepted or rejected: \(accepted) + \(rejected) of \(rowsSent)")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.rejects WHERE batch_id IN (\(batches))") == rejected,
                        "each rejected row is a reject")
                #expect(try await RunningSuite.count(postgres, "SELECT count(*) FROM scan_staging.rejects WHERE coalesce(reason, '') = ''") == 0,
                        "every reject says why")
                let acceptedAnywhere = try await RunningSuite.count(postgres, "SELECT coalesce(sum(accepted_rows), 0) FROM scan_staging.uploads")
                let inventory = try await RunningSuite.count(postgres, "SELECT count(*) FROM file_inventory WHERE host_id = '\(host)'")
                #expect(inventory > 0 && inventory <= acceptedAnywhere, "the accepted rows, and only they, are the inventory: \(inventory) of \(acceptedAnywhere)")
                print("""
                    scan fuzz (seed \(Self.seed)): \(rowsSent) hostile rows in \(rowBatches.count) batches: \(accepted) accepted, \(rejected) rejected \
                    with a reason; 72 uploads answered \(statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")); \
                    \(inventory) files in the inventory
                    """)
            }
            #expect(try await suite.send("GET", suite.apiURL + "/healthz", body: nil, headers: [:]).0 == 200, "the API is still up")
            #expect(suite.service("alto-ingest")?.isRunning == true, "the ingest worker is still up")
        }
    }

    static func compress(_ body: [UInt8], _ encoding: String) throws -> [UInt8] {
        let compressor = try Compressor(encoding == "gzip" ? .gzip : .zstd)
        var packed: [UInt8] = []
        compressor.compress(body, into: &packed)
        compressor.finish(into: &packed)
        return packed
    }
}

/// One CSV row, framed as the agent frames it (quoted where it must be), with fields drawn from what a hostile
/// file system or a forged agent can send.
enum ScanFuzzRow {
    static let sizes = ["0", "1", "4096", "-5", "9223372036854775807", "9223372036854775808", "1e9", "", "abc", " 12", "0x10", "١٢"]
    static let times = ["2025-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2025-13-01T00:00:00Z",
                        "2025-02-30T00:00:00Z", "", "yesterday", "2025-01-01T00:00:00+14:00", "2025-01-01T00:00:00.123456789Z",
                        "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2025-01-01T24:00:00Z", "-2025-01-01T00:00:00Z"]
    static let modes = ["0644", "0777", "7777", "99999", "", "rwx", "-1", "0"]
    static let pieces: [[UInt8]] = [Array("report".utf8), Array("é‰中文".utf8), [0xFF, 0xFE], [0x00], Array(",".utf8), Array("\"".utf8),
                                    Array("\n".utf8), Array("\r\n".utf8), Array("\\".utf8), Array("..".utf8), Array("/".utf8), Array(" ".utf8),
                                    Array("%00".utf8), [0x1B, 0x5B, 0x33, 0x31, 0x6D], Array("'; DROP TABLE file_inventory; --".utf8)]

    static func make(_ random: inout SeededRandom, index: Int) -> [UInt8] {
        var path: [UInt8]
        switch random.next(below: 40) {
        case 0: path = []
        case 1, 2: path = Array("relative/file-\(index)".utf8)
        case 3: path = Array("/srv/long-\(index)/".utf8) + [UInt8](repeating: 0x61, count: 300 * 1024)
        default:
            path = Array("/srv/fuzz/\(index)-".utf8)
            for _ in 0..<random.next(below: 4) { path += pieces[random.next(below: pieces.count)] }
            path += Array(".dat".utf8)
        }
        var fields: [[UInt8]] = [path, Array(pick(sizes, &random).utf8), Array(pick(times, &random).utf8),
                                 Array((random.next(below: 2) == 0 ? "" : pick(times, &random)).utf8),
                                 random.next(below: 4) == 0 ? pieces[random.next(below: pieces.count)] : Array("dat".utf8),
                                 Array(pick(modes, &random).utf8),
                                 random.next(below: 5) == 0 ? pieces[random.next(below: pieces.count)] : Array("alice".utf8),
                                 random.next(below: 3) == 0 ? Array("sha256:\(String(repeating: "ab", count: 32))".utf8) : []]
        switch random.next(below: 12) {
        case 0: fields.removeLast()
        case 1: fields.append(Array("surplus".utf8))
        default: break
        }
        return Array(fields.map(quoted).joined(separator: [0x2C])) + [0x0A]
    }

    /// The first of `values` (a good one) two times in three, otherwise any of them.
    static func pick(_ values: [String], _ random: inout SeededRandom) -> String {
        random.next(below: 3) == 0 ? values[random.next(below: values.count)] : values[0]
    }

    static func quoted(_ field: [UInt8]) -> [UInt8] {
        guard field.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return field }
        return [0x22] + field.flatMap { $0 == 0x22 ? [0x22, 0x22] : [$0] } + [0x22]
    }
}
