import AltoModels
import AltoTiering
import Crypto
import Foundation
import Testing

/// A copy's description says what a restore needs, and a sealed copy's cannot be changed by whoever writes to tier-2.
@Suite struct CopyDescriptionTests {
    let dataKey = SymmetricKey(size: .bits256)

    func description(path: String = "/srv/share/Jahresbericht ü, 2019.pdf") -> CopyDescription {
        CopyDescription(customerID: UUID(), hostID: UUID(), targetID: UUID(), fileID: 42, originalPath: path, size: 1234,
                        modified: .init(seconds: 1_700_000_000, nanoseconds: 123_456_789), accessed: .init(seconds: 1_700_000_100, nanoseconds: 5),
                        mode: 0o640, uid: 1000, gid: 100, hash: "sha256:" + String(repeating: "ab", count: 32), storedBytes: 1300,
                        storedHash: "sealed:" + String(repeating: "cd", count: 32), compression: "zstd",
                        encryption: StubRecord.Encryption(provider: "local", wrappedKey: "alto:v3:AAAA"), tieredAt: Date(timeIntervalSince1970: 1_750_000_000))
    }

    @Test func aSealedDescriptionAuthenticatesOnlyAsWritten() throws {
        let sealed = description().authenticated(with: dataKey)
        #expect(sealed.mac?.hasPrefix("hmac-sha256:") == true)
        #expect(sealed.isAuthentic(under: dataKey))
        let read = try CopyDescription.decoded(from: sealed.encoded(), at: "copy.alto.json")
        #expect(read == sealed, "it reads back as written, nanoseconds and all")
        #expect(read.isAuthentic(under: dataKey))

        var moved = read
        moved.originalPath = "/etc/cron.d/evil"
        var widened = read
        widened.mode = 0o4755
        var chowned = read
        chowned.uid = 0
        var rekeyed = read
        rekeyed.encryption?.wrappedKey = "alto:v3:BBBB"
        for changed in [moved, widened, chowned, rekeyed] {
            #expect(!changed.isAuthentic(under: dataKey), "a changed field no longer authenticates")
        }
        #expect(!read.isAuthentic(under: SymmetricKey(size: .bits256)), "nor under another data key")
        var unsealed = read
        unsealed.mac = nil
        #expect(!unsealed.isAuthentic(under: dataKey))
        #expect(unsealed.problem != nil, "a sealed copy's description without a mac is unusable")
    }

    @Test func fieldsCannotBeShiftedIntoEachOther() {
        // Length-prefixed fields: a path that ends like the next field begins does not read as another description.
        var first = description(path: "/a\n5:12345")
        first.size = 1
        var second = description(path: "/a")
        second.customerID = first.customerID
        second.hostID = first.hostID
        second.targetID = first.targetID
        #expect(first.authenticatedText != second.authenticatedText)
    }

    @Test func whatIsNotADescriptionIsRefused() {
        for bytes in [Array("{}".utf8), Array("not json".utf8), Array(#"{"schema":"alto.copy","version":2}"#.utf8)] {
            #expect(throws: TieringError.self) { try CopyDescription.decoded(from: bytes, at: "x.alto.json") }
        }
        var future = description()
        future.version = 2
        #expect(future.problem != nil)
    }

    @Test func noCopyIsNamedLikeADescription() {
        let object = TierObject(customerID: UUID(), hostID: UUID(), fileID: 9, originalPath: "/srv/x/forged.alto.json", tieredAt: Date(),
                                compressed: false)
        #expect(!object.key.hasSuffix(CopyDescription.suffix))
        #expect(CopyDescription.copyLocation(describedAt: "/t/a/9-x") == nil)
        #expect(CopyDescription.copyLocation(describedAt: CopyDescription.location(describing: "/t/a/9-x")) == "/t/a/9-x")
    }
}
