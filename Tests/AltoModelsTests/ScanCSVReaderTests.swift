import AltoModels
import Foundation
import Testing

@Suite struct ScanCSVReaderTests {
    static let batch = ScanCSV.header
        + "/srv/plain.txt,10,2025-01-02T03:04:05Z,2025-01-02T03:04:05.5Z,txt,0644,alice,\r\n"
        + "\"/srv/with, comma and \"\"quotes\"\"\nand a newline.TXT\",0,2025-01-02T03:04:05+02:00,,,0600,bob,\n"
        + "/srv/last-without-line-end.pdf,3,2025-01-02T03:04:05.123456789Z,,PDF,0644,carol,"

    func rows(of bytes: [UInt8], pieces: [Int]) throws -> [(Int, [String])] {
        var reader = ScanCSVReader()
        var rows: [(Int, [String])] = []
        let collect = { (row: ScanCSVReader.Row) in
            rows.append((row.line, (0..<row.fieldCount).map { String(decoding: row.field($0), as: UTF8.self) }))
        }
        var start = 0
        for end in pieces + [bytes.count] where end >= start {
            try reader.read(Array(bytes[start..<end]), collect)
            start = end
        }
        try reader.finish(collect)
        return rows
    }

    @Test func anySplitOfTheInputGivesTheSameRows() throws {
        let bytes = Array(Self.batch.utf8)
        let whole = try rows(of: bytes, pieces: [])
        #expect(whole.map(\.0) == [2, 3, 5])
        #expect(whole[1].1[0] == "/srv/with, comma and \"quotes\"\nand a newline.TXT")
        for split in 1..<bytes.count {
            let parts = try rows(of: bytes, pieces: [split])
            #expect(parts.map(\.1) == whole.map(\.1), "split at \(split)")
        }
        let byteByByte = try rows(of: bytes, pieces: Array(1..<bytes.count))
        #expect(byteByByte.map(\.1) == whole.map(\.1))
    }

    @Test func aRowPastTheLimitIsReadToItsEndButNotKept() throws {
        let long = String(repeating: "x", count: 5000)
        let batch = ScanCSV.header
            + "/srv/short.txt,1,2025-01-02T03:04:05Z,,,0644,alice,\n"
            + "\"/srv/\(long)\nstill the same row, \"\"quoted\"\"\",1,2025-01-02T03:04:05Z,,,0644,alice,\n"
            + "/srv/\(long),1,2025-01-02T03:04:05Z,,,0644,alice,\n"
            + "/srv/after.txt,1,2025-01-02T03:04:05Z,,,0644,alice,\n"
        for piece in [1, 7, 4096, 1 << 20] {
            var reader = ScanCSVReader(maximumRowBytes: 1024)
            var seen: [(line: Int, overlong: Bool, path: String, kept: Int)] = []
            let collect = { (row: ScanCSVReader.Row) in
                seen.append((row.line, row.isOverlong, String(decoding: row.field(0), as: UTF8.self), row.bytes.count))
            }
            let bytes = Array(batch.utf8)
            for start in stride(from: 0, to: bytes.count, by: piece) {
                try reader.read(Array(bytes[start..<min(bytes.count, start + piece)]), collect)
            }
            try reader.finish(collect)
            #expect(seen.map(\.line) == [2, 3, 5, 6], "piece \(piece)")
            #expect(seen.map(\.overlong) == [false, true, true, false], "piece \(piece)")
            #expect(seen.last?.path == "/srv/after.txt")
            #expect(seen.allSatisfy { $0.kept <= 1024 + piece }, "an overlong row is never kept whole")
        }
        var reader = ScanCSVReader(maximumRowBytes: 1024)
        var reasons: [String] = []
        try reader.read(Array((ScanCSV.header + "/srv/\(long),1,2025-01-02T03:04:05Z,,,0644,alice,\n").utf8)) { row in
            if case .failure(let error) = ScanRowNormalizer.normalize(row) { reasons.append(error.message) }
        }
        #expect(reasons.count == 1)
        #expect(reasons.first?.hasPrefix("the row is longer than") == true)
    }

    @Test func normalizesTimesExtensionsAndHashes() throws {
        let (records, errors) = try ScanCSV.parse(Array(Self.batch.utf8))
        #expect(errors.isEmpty)
        #expect(records[0].lastAccessed == Date(timeIntervalSince1970: 1_735_787_045.5))
        #expect(records[1].lastModified == Date(timeIntervalSince1970: 1_735_787_045 - 7200), "offset times become UTC")
        #expect(records[1].fileExtension == "txt", "taken from the path and lower-cased")
        #expect(records[2].fileExtension == "pdf")
        #expect(records[2].lastModified.timeIntervalSince1970 == 1_735_787_045.123456)
        let upper = "sha256:" + String(repeating: "AB", count: 32)
        let hashed = try ScanCSV.parse(Array((ScanCSV.header + "/a,1,2025-01-01T00:00:00Z,,,0644,x,\(upper)\n").utf8))
        #expect(hashed.records.first?.hash == upper.lowercased())
    }

    @Test(arguments: [
        ("/a,1,2025-13-01T00:00:00Z,,,0644,x,", "last_modified is not an RFC 3339 time"),
        ("/a,1,2025-02-30T00:00:00Z,,,0644,x,", "last_modified is not an RFC 3339 time"),
        ("/a,1,yesterday,,,0644,x,", "last_modified is not an RFC 3339 time"),
        ("/a,1,0000-06-01T00:00:00Z,,,0644,x,", "last_modified is outside the years 1 to 9999"),
        ("/a,1,0001-01-01T00:30:00+01:00,,,0644,x,", "last_modified is outside the years 1 to 9999"),
        ("/a,1,2025-01-01T00:00:00Z,0000-01-01T00:00:00Z,,0644,x,", "last_accessed is outside the years 1 to 9999"),
        ("/a,1,2025-01-01T00:00:00Z,soon,,0644,x,", "last_accessed is not an RFC 3339 time"),
        ("/a,-5,2025-01-01T00:00:00Z,,,0644,x,", "file_size is negative"),
        ("/a,12kb,2025-01-01T00:00:00Z,,,0644,x,", "file_size is not a non-negative integer"),
        ("/a,1,2025-01-01T00:00:00Z,,,0644,x,,extra", "expected 8 fields, found 9"),
        ("/a,1,2025-01-01T00:00:00Z", "expected 8 fields, found 3"),
        (",1,2025-01-01T00:00:00Z,,,0644,x,", "file_path is empty"),
        ("/a,1,2025-01-01T00:00:00Z,,,0644,x,md5:abc", "hash must be sha256:<64 hex digits>"),
    ])
    func rejectsBadRowsWithTheirReason(row: String, reason: String) throws {
        let (records, errors) = try ScanCSV.parse(Array((ScanCSV.header + "/good,1,2025-01-01T00:00:00Z,,,0644,x,\n" + row + "\n").utf8))
        #expect(records.map(\.path) == ["/good"])
        #expect(errors.count == 1)
        #expect(errors.first?.line == 3)
        #expect(errors.first?.message.hasPrefix(reason) == true, "\(errors.first?.message ?? "")")
    }

    @Test func rejectsTextThatIsNotUTF8() throws {
        let bytes = Array((ScanCSV.header + "/caf").utf8) + [0xE9] + Array(",1,2025-01-01T00:00:00Z,,,0644,x,\n".utf8)
        let (records, errors) = try ScanCSV.parse(bytes)
        #expect(records.isEmpty)
        #expect(errors.first?.message.contains("UTF-8") == true)
    }

    @Test func aWholeBatchFailsOnlyWithoutHeaderOrWithAnOpenQuote() {
        #expect(throws: ScanCSV.FormatError.self) { try ScanCSV.parse(Array("path,size\n/a,1\n".utf8)) }
        #expect(throws: ScanCSV.FormatError.self) { try ScanCSV.parse(Array((ScanCSV.header + "\"/open,1\n").utf8)) }
        #expect(throws: ScanCSV.FormatError.self) { try ScanCSV.parse([]) }
    }

    @Test func theScannersRowsReadBackAsWritten() throws {
        var writer = ScanRowWriter()
        let path = Array("/srv/a, \"b\"\n".utf8) + [0xFF] + Array(".Dat".utf8)
        path.withUnsafeBufferPointer { bytes in
            writer.write(ScanRowWriter.File(path: bytes, size: 42, modified: (1_700_000_000, 123_456_789),
                                            accessed: (1_700_000_100, 0), mode: 0o100640, owner: Array("eve".utf8), hash: nil))
        }
        let (records, errors) = try ScanCSV.parse(Array(ScanCSV.header.utf8) + writer.bytes)
        #expect(errors.isEmpty)
        let record = try #require(records.first)
        #expect(PathEncoding.decode(record.path) == path)
        #expect(record.size == 42)
        #expect(record.lastModified.timeIntervalSince1970 == 1_700_000_000.123456)
        #expect(record.fileExtension == "dat")
        #expect(record.permissions == "0640")
        #expect(record.owner == "eve")
    }
}
