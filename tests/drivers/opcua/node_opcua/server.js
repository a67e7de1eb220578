// A node-opcua server for the OPC UA driver's tests: an independent stack, as a plant's
// devices are. Started by tests/drivers/opcua/node_opcua_server.py, which installs
// package.json's node-opcua into a cache dir and passes it in NODE_PATH.
//
// Usage: node server.js PORT PKI_DIR [PADDING]
// PADDING namespaces (default 1) are registered before the test's own, so its index is
// 2 + PADDING: a test can restart the server with its namespace at another index.
// Prints "READY <port> <namespace index>" once it listens. Reads commands on stdin, one a line:
//   set <Name> <number|true|false>   writes a variable; answers "OK"
"use strict";
const readline = require("readline");
const { OPCUAServer, DataType, Variant, StatusCodes, OPCUACertificateManager } = require("node-opcua");

const NAMESPACE_URI = "urn:oee-tui:node-opcua-test";
const VARIABLES = {
    Count: { dataType: DataType.Int32, value: 0 },
    Running: { dataType: DataType.Boolean, value: false },
    Speed: { dataType: DataType.Double, value: 0.0 },
};

async function main() {
    const port = Number(process.argv[2]);
    const pki = process.argv[3];
    const padding = Number(process.argv[4] || 1);
    const serverCertificateManager = new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: true });
    const server = new OPCUAServer({
        port,
        resourcePath: "/oee",
        serverCertificateManager,
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    for (let i = 0; i < padding; i++) {
        addressSpace.registerNamespace(`urn:oee-tui:padding:${i}`);
    }
    const namespace = addressSpace.registerNamespace(NAMESPACE_URI);
    const line = namespace.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Line3" });
    for (const [name, spec] of Object.entries(VARIABLES)) {
        const variable = namespace.addVariable({
            componentOf: line,
            nodeId: `s=Line3.${name}`,
            browseName: name,
            dataType: spec.dataType,
            value: new Variant({ dataType: spec.dataType, value: spec.value }),
        });
        spec.node = variable;
    }
    await server.start();
    process.stdout.write(`READY ${port} ${namespace.index}\n`);

    const input = readline.createInterface({ input: process.stdin });
    input.on("line", (text) => {
        const [command, name, raw] = text.trim().split(/\s+/);
        const spec = VARIABLES[name];
        if (command !== "set" || spec === undefined) {
            process.stdout.write(`ERROR ${text}\n`);
            return;
        }
        const value = spec.dataType === DataType.Boolean ? raw === "true" : Number(raw);
        spec.node.setValueFromSource(new Variant({ dataType: spec.dataType, value }), StatusCodes.Good);
        process.stdout.write("OK\n");
    });
    // The test's end closes stdin: shut down cleanly.
    input.on("close", async () => {
        await server.shutdown(0);
        process.exit(0);
    });
}

main().catch((error) => {
    process.stderr.write(`node-opcua server failed: ${error.stack || error}\n`);
    process.exit(1);
});
