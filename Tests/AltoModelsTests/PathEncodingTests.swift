import AltoModels
import Testing

@Suite struct PathEncodingTests {
    @Test(arguments: [
        ("/srv/plain.txt", "/srv/plain.txt"),
        ("/srv/100%.txt", "/srv/100%.txt"),
        ("/srv/a%41", "/srv/a%2541"),
        ("/srv/%zz%4", "/srv/%zz%4"),
        ("/srv/日本語/résumé.pdf", "/srv/日本語/résumé.pdf"),
    ])
    func validUTF8IsKeptExceptEscapeLookalikes(path: String, stored: String) {
        #expect(PathEncoding.encode(Array(path.utf8)) == stored)
        #expect(PathEncoding.decode(stored) == Array(path.utf8))
    }

    @Test func invalidBytesBecomeEscapes() {
        let latin1 = Array("/srv/caf".utf8) + [0xE9] + Array(".txt".utf8)
        #expect(PathEncoding.encode(latin1) == "/srv/caf%E9.txt")
        #expect(PathEncoding.decode("/srv/caf%E9.txt") == latin1)
        // An overlong slash, a UTF-16 surrogate and a truncated sequence are not UTF-8 either.
        let awkward: [UInt8] = [0x2F, 0xC0, 0xAF, 0xED, 0xA0, 0x80, 0xE2, 0x82]
        #expect(PathEncoding.encode(awkward) == "/%C0%AF%ED%A0%80%E2%82")
        #expect(PathEncoding.decode(PathEncoding.encode(awkward)) == awkward)
    }

    @Test func everyByteStringSurvivesTheRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x25, 0x2F, 0x41, 0x61, 0x46, 0x30, 0xC3, 0xA9, 0xE9, 0xFF, 0x80, 0xF0, 0x9F, 0x98, 0x80, 0x0A]
        for _ in 0..<20_000 {
            let path = (0..<Int.random(in: 1...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let stored = PathEncoding.encode(path)
            #expect(PathEncoding.decode(stored) == path, "\(path) stored as \(stored)")
        }
    }
}
