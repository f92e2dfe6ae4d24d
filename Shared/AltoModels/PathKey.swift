/// A 64-bit FNV-1a key of a path as the CSV carries it: how an agent that lists only what changed names a file it
/// no longer finds, without keeping every path it ever saw. Two paths can share a key; a file gone while another
/// with its key is still there is then not named, and stays in the inventory until the next complete listing (the
/// host's count no longer matches the agent's, which the ingest reports). A live file is never named.
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
