/// The little of XML an object store's answers need read: the text of named elements, which hold no markup of their
/// own in these answers (keys, sizes, markers), with entities decoded. Not a parser: it does not need to be one for
/// answers the store's own documentation fixes, and a reply it cannot read yields nothing rather than a guess.
enum XMLText {
    /// Every `<name>…</name>` in `text`, in order, as the raw text between the tags.
    static func elements(_ name: String, in text: Substring) -> [Substring] {
        let open = "<\(name)>"
        let close = "</\(name)>"
        var found: [Substring] = []
        var rest = text[...]
        while let start = rest.range(of: open), let end = rest.range(of: close, range: start.upperBound..<rest.endIndex) {
            found.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// The text of the first `<name>` in `text`, entities decoded.
    static func value(_ name: String, in text: Substring) -> String? {
        elements(name, in: text).first.map(unescaped)
    }

    /// `text` with XML's five named entities and numeric character references turned back into characters.
    static func unescaped(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var output = ""
        var rest = text[...]
        while let ampersand = rest.firstIndex(of: "&") {
            output += rest[..<ampersand]
            guard let semicolon = rest[ampersand...].firstIndex(of: ";"), rest.distance(from: ampersand, to: semicolon) <= 10 else {
                output += "&"
                rest = rest[rest.index(after: ampersand)...]
                continue
            }
            let entity = rest[rest.index(after: ampersand)..<semicolon]
            switch entity {
            case "amp": output += "&"
            case "lt": output += "<"
            case "gt": output += ">"
            case "quot": output += "\""
            case "apos": output += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst(), radix: 10) : nil
                if let number, let scalar = Unicode.Scalar(number) {
                    output.unicodeScalars.append(scalar)
                } else {
                    output += "&" + entity + ";"
                }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return output + rest
    }
}
