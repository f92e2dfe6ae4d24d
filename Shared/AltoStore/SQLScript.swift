import Foundation

/// Splits a migration file into single statements, because PostgreSQL's extended protocol runs one at a time.
/// Semicolons inside quotes, quoted identifiers, dollar-quoted bodies and comments do not split.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let bytes = Array(script.utf8)
        var statements: [String] = []
        var start = 0
        var index = 0
        func emit(upTo end: Int) {
            let text = String(decoding: bytes[start..<end], as: UTF8.self)
            if !strippingComments(text).allSatisfy(\.isWhitespace) {
                statements.append(text.trimmingWhitespace())
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                index += 1
                while index < bytes.count {
                    if bytes[index] == byte {
                        if index + 1 < bytes.count, bytes[index + 1] == byte { index += 2; continue }
                        break
                    }
                    index += 1
                }
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                index += 2
                while index + 1 < bytes.count, !(bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/")) {
                    index += 1
                }
                index += 1
            case UInt8(ascii: "$"):
                if let tagEnd = dollarTagEnd(bytes, from: index) {
                    let tag = bytes[index...tagEnd]
                    var search = tagEnd + 1
                    while search + tag.count <= bytes.count, !bytes[search..<(search + tag.count)].elementsEqual(tag) {
                        search += 1
                    }
                    index = search + tag.count - 1
                }
            case UInt8(ascii: ";"):
                emit(upTo: index)
                start = index + 1
            default:
                break
            }
            index += 1
        }
        if start < bytes.count { emit(upTo: bytes.count) }
        return statements
    }

    /// The index of the closing `$` of a dollar-quote tag such as `$$` or `$body$`, or nil when `$` starts none.
    private static func dollarTagEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start + 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$") { return index }
            let isTagCharacter = byte == UInt8(ascii: "_") || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || (index > start + 1 && (0x30...0x39).contains(byte))
            guard isTagCharacter else { return nil }
            index += 1
        }
        return nil
    }

    private static func strippingComments(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? String(line) }
            .joined(separator: "\n")
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
