@testable import AltoAgent
import Foundation
import Testing

/// What a scan's index lets the next scan leave out: files exactly as they were, and the keys of those gone.
@Suite struct ScanIndexTests {
    func entry(_ path: String, size: Int64 = 10, modified: Int64 = 1, accessed: Int64 = 2, mode: UInt32 = 0o100644,
               owner: UInt32 = 1000) -> ScanIndex.Entry {
        ScanIndex.Entry(encodedPath: Array(path.utf8), size: size, modified: modified, accessed: accessed, mode: mode, owner: owner)
    }

    func saved(_ entries: [ScanIndex.Entry], listingsOfChanges: Int = 0) throws -> ScanIndex {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("alto-index-\(UUID().uuidString)/index.bin").path
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let recorder = ScanIndex.Recorder()
        recorder.add(entries)
        try recorder.save(to: file, listingsOfChanges: listingsOfChanges)
        return try #require(ScanIndex.load(file))
    }

    @Test func aFileIsLeftOutOnlyWhenNothingItsRowSaysChanged() throws {
        let index = try saved([entry("/srv/a"), entry("/srv/b"), entry("/srv/c")], listingsOfChanges: 3)
        #expect(index.listingsOfChanges == 3)
        #expect(index.holds(entry("/srv/b")))
        for changed in [entry("/srv/b", size: 11), entry("/srv/b", modified: 5), entry("/srv/b", accessed: 9), entry("/srv/b", mode: 0o100600),
                        entry("/srv/b", owner: 0), entry("/srv/d")] {
            #expect(!index.holds(changed))
        }
        #expect(index.change(of: entry("/srv/b", accessed: 9)) == .unchanged, "a read is no reason to hash again")
        #expect(index.change(of: entry("/srv/b", size: 11)) == .changed)
        #expect(index.change(of: entry("/srv/d")) == .new)
    }

    @Test func theKeysOfFilesNoLongerFoundAreListedOnce() throws {
        let previous = try saved([entry("/srv/a"), entry("/srv/b"), entry("/srv/c"), entry("/srv/e")])
        let current = ScanIndex.Recorder()
        current.add([entry("/srv/c", size: 99), entry("/srv/a")])
        current.add([entry("/srv/d")])
        #expect(Set(current.keysGone(since: previous)) == [entry("/srv/b").key, entry("/srv/e").key])
        #expect(current.keysGone(since: previous).count == 2)
    }

    @Test func anIndexOfAnotherLayoutIsNotRead() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("alto-index-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(repeating: 0, count: 16 + 40).write(to: URL(fileURLWithPath: file))
        #expect(ScanIndex.load(file) == nil)
    }
}
