/// A path glob: `*` and `?` stay within one path segment, `**` crosses segments (`/a/**/b` also matches `/a/b`),
/// `[abc]`, `[a-z]` and `[!a-z]` match one character of a set. Both `/` and `\` separate segments, so one rule
/// serves POSIX and Windows paths.
public struct GlobPattern: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case literal(UInt8)
        case anyCharacter
        case star
        /// `**` followed by a separator: zero or more whole segments.
        case segments
        /// `**` anywhere else: anything, separators included.
        case anything
        case set([ClosedRange<UInt8>], negated: Bool)
    }

    public let pattern: String
    public let caseSensitive: Bool
    let tokens: [Token]

    public init(_ pattern: String, caseSensitive: Bool = true) {
        self.pattern = pattern
        self.caseSensitive = caseSensitive
        self.tokens = Self.compile(Array(pattern.utf8), caseSensitive: caseSensitive)
    }

    public func matches(_ path: String) -> Bool {
        var bytes = Array(path.utf8)
        if !caseSensitive { bytes = bytes.map(Self.lowercase) }
        return Self.match(tokens[...], bytes[...])
    }

    static func isSeparator(_ byte: UInt8) -> Bool { byte == 0x2F || byte == 0x5C }

    static func lowercase(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 32 : byte }

    private static func compile(_ bytes: [UInt8], caseSensitive: Bool) -> [Token] {
        var tokens: [Token] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "*"):
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") {
                    if index + 2 < bytes.count, isSeparator(bytes[index + 2]) {
                        tokens.append(.segments)
                        index += 3
                    } else {
                        tokens.append(.anything)
                        index += 2
                    }
                    continue
                }
                tokens.append(.star)
            case UInt8(ascii: "?"):
                tokens.append(.anyCharacter)
            case UInt8(ascii: "["):
                if let (set, next) = compileSet(bytes, from: index + 1, caseSensitive: caseSensitive) {
                    tokens.append(set)
                    index = next
                    continue
                }
                tokens.append(.literal(byte))
            default:
                tokens.append(.literal(caseSensitive ? byte : lowercase(byte)))
            }
            index += 1
        }
        return tokens
    }

    /// Reads a bracket expression after its `[`; nil when it never closes, so `[` is then a literal.
    private static func compileSet(_ bytes: [UInt8], from start: Int, caseSensitive: Bool) -> (Token, Int)? {
        var index = start
        var negated = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "!") || bytes[index] == UInt8(ascii: "^") {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt8>] = []
        var first = true
        while index < bytes.count {
            var low = bytes[index]
            if low == UInt8(ascii: "]") && !first {
                return (.set(ranges, negated: negated), index + 1)
            }
            first = false
            var high = low
            if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "-"), bytes[index + 2] != UInt8(ascii: "]") {
                high = bytes[index + 2]
                index += 3
            } else {
                index += 1
            }
            if !caseSensitive { low = lowercase(low); high = lowercase(high) }
            if low <= high { ranges.append(low...high) }
        }
        return nil
    }

    private static func match(_ tokens: ArraySlice<Token>, _ path: ArraySlice<UInt8>) -> Bool {
        guard let token = tokens.first else { return path.isEmpty }
        let rest = tokens.dropFirst()
        switch token {
        case .literal(let byte):
            if let first = path.first, first == byte || (isSeparator(byte) && isSeparator(first)) {
                return match(rest, path.dropFirst())
            }
            return false
        case .anyCharacter:
            guard let first = path.first, !isSeparator(first) else { return false }
            return match(rest, path.dropFirst())
        case .set(let ranges, let negated):
            guard let first = path.first, !isSeparator(first) else { return false }
            guard ranges.contains(where: { $0.contains(first) }) != negated else { return false }
            return match(rest, path.dropFirst())
        case .star:
            var candidate = path
            while true {
                if match(rest, candidate) { return true }
                guard let first = candidate.first, !isSeparator(first) else { return false }
                candidate = candidate.dropFirst()
            }
        case .anything:
            var candidate = path
            while true {
                if match(rest, candidate) { return true }
                guard !candidate.isEmpty else { return false }
                candidate = candidate.dropFirst()
            }
        case .segments:
            var candidate = path
            while true {
                if match(rest, candidate) { return true }
                guard let separator = candidate.firstIndex(where: isSeparator) else { return false }
                candidate = path[(separator + 1)...]
            }
        }
    }
}
