import AltoModels
import AltoTestSupport
import AltoTiering
import Foundation
import Testing

/// The S3 store against a real S3-compatible server (moto's server mode) on loopback, checked by an independent
/// client (boto3) reading back what Alto wrote.
@Suite(.serialized, .timeLimit(.minutes(3))) struct S3StoreTests {
    static let accessKey = "AKIAALTOTEST"
    static let secretKey = "alto/test/secret+key"

    func boto3(_ port: Int, _ body: String) async throws -> String {
        try await PeerServer.python("""
            import boto3, hashlib, sys, urllib.parse
            s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:\(port)', region_name='us-east-1',
                              aws_access_key_id='\(Self.accessKey)', aws_secret_access_key='\(Self.secretKey)')
            \(body)
            """)
    }

    @Test func tiersLargeAndSmallFilesThatBoto3ReadsBackAndRecalls() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-s3-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let server = try await PeerServer(["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"], name: "moto", logFolder: work)
        defer { server.stop() }
        _ = try await boto3(server.port, "s3.create_bucket(Bucket='alto-tier2')")

        let target = StorageTargetReference(id: UUID(), kind: .s3, location: "s3://alto-tier2/fileserver",
                                            settings: ["endpoint": "http://127.0.0.1:\(server.port)", "access_key_id": Self.accessKey],
                                            secrets: ["secret_access_key": Self.secretKey])
        let store = try S3Store(target: target)
        let tierer = FileTierer(store: store, target: target, customerID: UUID(), hostID: UUID(), paths: ConfinedPaths(roots: [work.path]))
        let (large, largeContent) = try TierTestFiles.make(work, "big ü file.bin", bytes: 200 << 20)
        let (small, smallContent) = try TierTestFiles.make(work, "small name, with spaces.txt", bytes: 100 << 10)

        for (file, content) in [(large, largeContent), (small, smallContent)] {
            let result = await tierer.tier(file)
            #expect(result.outcome == .tiered, "\(result.reason ?? "")")
            let location = try #require(result.tieredLocation)
            #expect(location.hasPrefix("s3://alto-tier2/fileserver/"))
            let key = String(location.dropFirst("s3://alto-tier2/".count))
            let seen = try await boto3(server.port, """
                key = \(String(reflecting: key))
                head = s3.head_object(Bucket='alto-tier2', Key=key)
                body = s3.get_object(Bucket='alto-tier2', Key=key)['Body'].read()
                tags = {t['Key']: t['Value'] for t in s3.get_object_tagging(Bucket='alto-tier2', Key=key)['TagSet']}
                print(hashlib.sha256(body).hexdigest())
                print(urllib.parse.unquote(head['Metadata']['alto-original-path']))
                print(tags['alto-sha256'])
                print(head['ETag'])
                """).split(separator: "\n").map(String.init)
            #expect(seen[0] == ContentHash.of(content).dropFirst(7), "boto3 reads back the original bytes")
            #expect(seen[1] == file.filePath, "the original path is in the object's metadata")
            #expect(seen[2] == ContentHash.of(content).dropFirst(7), "the hash is in the object's tags")
            if file == large { #expect(seen[3].hasSuffix("-13\""), "200 MiB went up as a 13-part multipart upload: \(seen[3])") }
        }

        // A listing is the store's view of the bucket: each copy beside its description, and, over more than one
        // page, every key boto3 lists, however odd its characters.
        var listed: [TierEntry] = []
        try await store.list(prefix: "") { listed += $0 }
        #expect(listed.count == 4 && listed.filter { $0.key.hasSuffix(CopyDescription.suffix) }.count == 2, "\(listed.map(\.key))")
        for entry in listed where !entry.key.hasSuffix(CopyDescription.suffix) {
            let description = try #require(try await store.copyDescription(of: entry.location))
            #expect(description.storedBytes == entry.size, "the description gives the copy's size as the bucket lists it")
        }
        let expected = try await boto3(server.port, """
            for i in range(1200):
                s3.put_object(Bucket='alto-tier2', Key='fileserver/many/%04d ü +&%%41<x>.bin' % i, Body=b'x' * (i % 7))
            pages = s3.get_paginator('list_objects_v2').paginate(Bucket='alto-tier2', Prefix='fileserver/many/')
            print('\\n'.join(o['Key'] + '\\t' + str(o['Size']) for p in pages for o in p['Contents']))
            """).split(separator: "\n").map(String.init)
        var many: [TierEntry] = []
        var pages = 0
        try await store.list(prefix: "many/") { page in
            many += page
            pages += 1
        }
        #expect(pages == 2, "1200 keys come in two pages")
        #expect(many.map { "fileserver/\($0.key)\t\($0.size)" }.sorted() == expected.sorted(), "the same keys and sizes as boto3 lists")

        for (file, content) in [(large, largeContent), (small, smallContent)] {
            try await StubRecall.recall(path: file.filePath, stores: TierTestFiles.OneStore(store: store))
            #expect(try Data(contentsOf: URL(fileURLWithPath: file.filePath)) == content)
        }
    }

    @Test func signaturesMatchBotocores() async throws {
        let signer = SigV4Signer(accessKeyID: Self.accessKey, secretAccessKey: Self.secretKey, region: "eu-west-3")
        let date = Date(timeIntervalSince1970: 1_764_000_000)
        let path = "/alto-tier2/" + SigV4Signer.encode("customer/2025/10/28/7-Q1 report ü.pdf", keepingSlashes: true)
        let payloadHash = ContentHash.of(Data("part three of the copy".utf8)).dropFirst(7).description
        let headers = signer.sign(method: "PUT", host: "s3.example.net:9000", path: path, query: [("partNumber", "3"), ("uploadId", "a b/c")],
                                  headers: [("x-amz-meta-alto-original-path", "%2Fsrv%2Fq1")], payloadHash: payloadHash, date: date)
        let ours = try #require(headers.first { $0.0 == "Authorization" }?.1)
        let theirs = try await PeerServer.python("""
            import datetime
            from unittest import mock
            from botocore.auth import S3SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
            request = AWSRequest(method='PUT', url='http://s3.example.net:9000\(path)?partNumber=3&uploadId=a%20b%2Fc',
                                 data=b'part three of the copy', headers={'x-amz-meta-alto-original-path': '%2Fsrv%2Fq1'})
            fixed = datetime.datetime.fromtimestamp(1764000000, datetime.timezone.utc).replace(tzinfo=None)
            with mock.patch('botocore.auth.get_current_datetime', return_value=fixed, create=True):
                S3SigV4Auth(Credentials('\(Self.accessKey)', '\(Self.secretKey)'), 's3', 'eu-west-3').add_auth(request)
            print(request.headers['Authorization'])
            """)
        #expect(ours == theirs)
    }
}

#if canImport(Glibc)
import Glibc
#endif
