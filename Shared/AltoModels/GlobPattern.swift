/// A path glob: `*` and `?` stay within one path segment, `**` crosses segments (`/a/**/b` also matches `/a/b`),
/// `[abc]`, `[a-z]` and `[!a-z]` match one character of a set. Both `/` and `\` separate segments, so one rule
/// serves POSIX and Windows paths.
public struct GlobPattern: Sendable, Equatable {
    enum Token: Sendable, Equatable, BitwiseCopyable {
        case literal(UInt8)
        case anyCharacter
        case star
        /// `**` followed by a separator: zero or more whole segments.
        case segments
        /// `**` anywhere else: anything, separators included.
        case anything
        /// One character of a bracket expression: the bytes it admits are the bits of `sets` from this word on.
        case set(Int)
    }

    public let pattern: String
    public let caseSensitive: Bool
    /// Plain values only, so the matcher walks them without touching a reference count.
    let tokens: [Token]
    /// 256 bits (four words) per bracket expression.
    let sets: [UInt64]

    public init(_ pattern: String, caseSensitive: Bool = true) {
        self.pattern = pattern
        self.caseSensitive = caseSensitive
        (tokens, sets) = Self.compile(Array(pattern.utf8), caseSensitive: caseSensitive)
    }

    public func matches(_ path: String) -> Bool {
        var path = path
        return path.withUTF8 { matches($0) }
    }

    /// Matches the UTF-8 bytes of a path without copying them; the planner's hot loop calls this.
    public func matches(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        tokens.withUnsafeBufferPointer { tokens in
            sets.withUnsafeBufferPointer { sets in
                Self.matches(tokens: tokens, literalCount: literalCount, sets: sets, path: path, foldingCase: !caseSensitive)
            }
        }
    }

    /// Matches compiled tokens kept elsewhere, as ``PathCriteria`` keeps every glob of a plan; `sets` is the
    /// buffer the tokens' set offsets point into.
    ///
    /// `literalCount` leading tokens are literals (see ``literalCount``); they are compared first and from the
    /// last, because paths under one share mostly differ where a folder name ends, not where the share begins.
    static func matches(tokens: UnsafeBufferPointer<Token>, literalCount: Int, sets: UnsafeBufferPointer<UInt64>,
                        path: UnsafeBufferPointer<UInt8>, foldingCase: Bool) -> Bool {
        guard path.count >= literalCount else { return false }
        var index = literalCount
        while index > 0 {
            index -= 1
            guard case .literal(let byte) = tokens[index] else { return false }
            let first = foldingCase ? lowercase(path[index]) : path[index]
            guard first == byte || (isSeparator(byte) && isSeparator(first)) else { return false }
        }
        return match(tokens, literalCount, path, literalCount, sets: sets, foldingCase: foldingCase)
    }

    /// How many of the pattern's tokens, from the start, are literal bytes.
    var literalCount: Int {
        tokens.prefix { if case .literal = $0 { true } else { false } }.count
    }

    static func isSeparator(_ byte: UInt8) -> Bool { byte == 0x2F || byte == 0x5C }

    static func lowercase(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte + 32 : byte }

    private static func compile(_ bytes: [UInt8], caseSensitive: Bool) -> ([Token], [UInt64]) {
        var tokens: [Token] = []
        var sets: [UInt64] = []
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
                if let (bits, next) = compileSet(bytes, from: index + 1, caseSensitive: caseSensitive) {
                    tokens.append(.set(sets.count))
                    sets += bits
                    index = next
                    continue
                }
                tokens.append(.literal(byte))
            default:
                tokens.append(.literal(caseSensitive ? byte : lowercase(byte)))
            }
            index += 1
        }
        return (tokens, sets)
    }

    /// Reads a bracket expression after its `[` into the four words of its byte set; nil when it never closes, so
    /// `[` is then a literal.
    private static func compileSet(_ bytes: [UInt8], from start: Int, caseSensitive: Bool) -> ([UInt64], Int)? {
        var index = start
        var negated = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "!") || bytes[index] == UInt8(ascii: "^") {
            negated = true
            index += 1
        }
        var bits = [UInt64](repeating: 0, count: 4)
        var first = true
        while index < bytes.count {
            var low = bytes[index]
            if low == UInt8(ascii: "]") && !first {
                if negated { bits = bits.map { ~$0 } }
                return (bits, index + 1)
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
            if low <= high {
                for byte in low...high { bits[Int(byte >> 6)] |= 1 << UInt64(byte & 63) }
            }
        }
        return nil
    }

    private static func match(_ tokens: UnsafeBufferPointer<Token>, _ tokenIndex: Int,
                              _ path: UnsafeBufferPointer<UInt8>, _ pathIndex: Int,
                              sets: UnsafeBufferPointer<UInt64>, foldingCase: Bool) -> Bool {
        var tokenIndex = tokenIndex
        var pathIndex = pathIndex
        while tokenIndex < tokens.count {
            switch tokens[tokenIndex] {
            case .literal(let byte):
                guard pathIndex < path.count else { return false }
                let first = foldingCase ? lowercase(path[pathIndex]) : path[pathIndex]
                guard first == byte || (isSeparator(byte) && isSeparator(first)) else { return false }
            case .anyCharacter:
                guard pathIndex < path.count, !isSeparator(path[pathIndex]) else { return false }
            case .set(let offset):
                guard pathIndex < path.count, !isSeparator(path[pathIndex]) else { return false }
                let first = foldingCase ? lowercase(path[pathIndex]) : path[pathIndex]
                guard sets[offset + Int(first >> 6)] & (1 << UInt64(first & 63)) != 0 else { return false }
            case .star:
                var candidate = pathIndex
                while true {
                    if match(tokens, tokenIndex + 1, path, candidate, sets: sets, foldingCase: foldingCase) { return true }
                    guard candidate < path.count, !isSeparator(path[candidate]) else { return false }
                    candidate += 1
                }
            case .anything:
                for candidate in pathIndex...path.count
                where match(tokens, tokenIndex + 1, path, candidate, sets: sets, foldingCase: foldingCase) {
                    return true
                }
                return false
            case .segments:
                var candidate = pathIndex
                while true {
                    if match(tokens, tokenIndex + 1, path, candidate, sets: sets, foldingCase: foldingCase) { return true }
                    guard let separator = (candidate..<path.count).first(where: { isSeparator(path[$0]) }) else { return false }
                    candidate = separator + 1
                }
            }
            tokenIndex += 1
            pathIndex += 1
        }
        return pathIndex == path.count
    }
}
