import AltoModels
import Foundation
import Testing

@Suite struct ScanCSVTests {
    let modified = Date(timeIntervalSince1970: 1_600_000_000)

    func record(_ path: String, hash: String? = nil) -> ScanRecord {
        ScanRecord(path: path, size: 12, lastModified: modified, lastAccessed: nil,
                   fileExtension: InventoryFile.fileExtension(of: path), permissions: "0644", owner: "1000", hash: hash)
    }

    @Test(arguments: [
        "/data/plain.txt",
        "/data/with, comma.txt",
        "/data/with \"quotes\".txt",
        "/data/with\nnewline.txt",
        "/data/with\r\ncrlf.txt",
        "C:\\Users\\Ünïcödé\\résumé.docx",
        "/data/日本語/ファイル.pdf",
    ])
    func roundTripsAwkwardPaths(path: String) throws {
        let csv = ScanCSV.header + ScanCSV.row(record(path)) + ScanCSV.row(record("/next"))
        let (records, errors) = try ScanCSV.parse(Array(csv.utf8))
        #expect(errors.isEmpty)
        #expect(records.map(\.path) == [path, "/next"])
        #expect(records.first == record(path))
    }

    @Test func reportsBadRowsWithoutLosingGoodOnes() throws {
        let csv = ScanCSV.header
            + "/a.txt,notanumber,2025-01-01T00:00:00Z,,txt,0644,root,\n"
            + ScanCSV.row(record("/good.txt"))
            + "/b.txt,1,yesterday,,txt,0644,root,\n"
            + "/c.txt,1,2025-01-01T00:00:00Z,,txt,0644,root,md5:abc\n"
            + "/d.txt,1\n"
        let (records, errors) = try ScanCSV.parse(Array(csv.utf8))
        #expect(records.map(\.path) == ["/good.txt"])
        #expect(errors.map(\.line) == [2, 4, 5, 6])
        #expect(errors[0].message.contains("file_size"))
        #expect(errors[1].message.contains("last_modified"))
        #expect(errors[2].message.contains("hash"))
        #expect(errors[3].message.contains("expected 8 fields"))
    }

    @Test func refusesAMissingHeaderOrAnUnclosedQuote() {
        #expect(throws: ScanCSV.FormatError.self) { try ScanCSV.parse(Array("/a,1,2025-01-01T00:00:00Z,,,,,\n".utf8)) }
        #expect(throws: ScanCSV.FormatError.self) { try ScanCSV.parse(Array((ScanCSV.header + "\"/open,1\n").utf8)) }
        #expect(throws: ScanCSV.FormatError.self) { try ScanCSV.parse([]) }
    }

    @Test func takesTheExtensionFromThePathWhenTheColumnIsEmpty() throws {
        let csv = ScanCSV.header + "/data/Archive.TAR.GZ,5,2025-01-01T00:00:00Z,,,0644,root,\n"
        let (records, _) = try ScanCSV.parse(Array(csv.utf8))
        #expect(records.first?.fileExtension == "gz")
    }
}
