/// A 64-bit FNV-1a key of a path as the CSV carries it: how an agent that lists only what changed names a file it
/// no longer finds, without keeping every path it ever saw. Two paths can share a key; the inventory then retires
/// both, the host's file count no longer matches the agent's, and the next complete listing brings the live one
/// back (a retired file is only left untiered, never touched).
public enum PathKey {
    public static func of(_ encodedPath: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in encodedPath {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// The key as PostgreSQL's `bigint` holds it.
    public static func stored(_ key: UInt64) -> Int64 { Int64(bitPattern: key) }
}
