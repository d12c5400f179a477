// trm-lsp for VS Code: starts `trm-lsp serve --stdio`, shows the daemon's state in the status
// bar, and registers the daemon's MCP endpoint so `consult_logic_model` appears in chat with no
// configuration. The hover, the code lenses and their `trm-lsp.explain` command come from the
// server through the language client.
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions } from "vscode-languageclient/node";

const SECTION = "trm-lsp";
// Keys of the `trm-lsp` section that configure this extension, not the server.
const CLIENT_KEYS = ["serverCommand", "trace"];

let client: LanguageClient | undefined;

function serverSettings(): Record<string, unknown> {
  const all = vscode.workspace.getConfiguration().get<Record<string, unknown>>(SECTION) ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!CLIENT_KEYS.includes(key)) {
      out[key] = value;
    }
  }
  return out;
}

interface DaemonRecord {
  pid: number;
  mcp_url: string;
}

function daemonRecords(): { folder: vscode.WorkspaceFolder; record: DaemonRecord }[] {
  const out = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const file = path.join(folder.uri.fsPath, ".trm-lsp", "daemon.json");
    try {
      const record = JSON.parse(fs.readFileSync(file, "utf8")) as DaemonRecord;
      if (record.mcp_url) {
        out.push({ folder, record });
      }
    } catch {
      // no daemon for this folder (yet)
    }
  }
  return out;
}

interface FolderStatus {
  workspace: string;
  mcp_url: string;
}

// Fired when a folder's MCP endpoint appears, moves or goes.
const mcpChanged = new vscode.EventEmitter<void>();
let lastMcpUrls = "";

// Each folder's MCP endpoint as the server reports it (`trm-lsp.status`): a read-only folder keeps
// its index, and daemon.json with it, outside the folder. Before the server answers: the folders'
// own .trm-lsp/daemon.json.
async function mcpEndpoints(): Promise<{ name: string; url: string }[]> {
  try {
    const status = (await runServerCommand("trm-lsp.status")) as { folders?: FolderStatus[] };
    const served = (status.folders ?? []).filter((f) => f.mcp_url);
    if (served.length) {
      return served.map((f) => ({ name: path.basename(f.workspace), url: f.mcp_url }));
    }
  } catch {
    // the server is not up yet
  }
  return daemonRecords().map(({ folder, record }) => ({ name: folder.name, url: record.mcp_url }));
}

function noteMcpUrls(folders: FolderStatus[] | undefined): void {
  const urls = (folders ?? []).map((f) => f.mcp_url).join(" ");
  if (urls !== lastMcpUrls) {
    lastMcpUrls = urls;
    mcpChanged.fire();
  }
}

function registerMcp(context: vscode.ExtensionContext): void {
  if (!vscode.lm || typeof vscode.lm.registerMcpServerDefinitionProvider !== "function") {
    return; // VS Code before 1.101: the README shows .vscode/mcp.json instead
  }
  const watcher = vscode.workspace.createFileSystemWatcher("**/.trm-lsp/daemon.json");
  watcher.onDidCreate(() => mcpChanged.fire());
  watcher.onDidChange(() => mcpChanged.fire());
  watcher.onDidDelete(() => mcpChanged.fire());
  context.subscriptions.push(watcher, mcpChanged);
  context.subscriptions.push(
    vscode.lm.registerMcpServerDefinitionProvider("trm-lsp", {
      onDidChangeMcpServerDefinitions: mcpChanged.event,
      provideMcpServerDefinitions: async () => {
        const token = vscode.workspace.getConfiguration(SECTION).get<string>("serve.mcpToken") ?? "";
        const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
        return (await mcpEndpoints()).map(
          ({ name, url }) => new vscode.McpHttpServerDefinition(`trm-lsp: ${name}`, vscode.Uri.parse(url), headers),
        );
      },
    }),
  );
}

async function runServerCommand(command: string, args: unknown[] = []): Promise<unknown> {
  if (!client) {
    throw new Error("trm-lsp is not running");
  }
  return client.sendRequest("workspace/executeCommand", { command, arguments: args });
}

function startStatusBar(context: vscode.ExtensionContext): void {
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 50);
  item.command = "trm-lsp.showStatus";
  item.text = "$(sync~spin) trm-lsp";
  item.show();
  const refresh = async () => {
    try {
      const status = (await runServerCommand("trm-lsp.status")) as {
        indexed: boolean; queue: number; teacher: { state: string }; student: { version: string; training: boolean };
        folders?: FolderStatus[];
      };
      noteMcpUrls(status.folders);
      const busy = !status.indexed || status.queue > 0 || status.student.training;
      const parts = [
        status.indexed ? `queue ${status.queue}` : "indexing",
        `teacher ${status.teacher.state}`,
        status.student.training ? "training" : status.student.version ? "student ready" : "no student",
      ];
      item.text = `${busy ? "$(sync~spin)" : "$(check)"} trm-lsp: ${parts.join(" · ")}`;
      item.tooltip = JSON.stringify(status, null, 2);
    } catch (error) {
      item.text = "$(warning) trm-lsp";
      item.tooltip = String(error);
    }
  };
  const timer = setInterval(refresh, 3000);
  context.subscriptions.push(item, { dispose: () => clearInterval(timer) });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const [command, ...args] = vscode.workspace
    .getConfiguration(SECTION)
    .get<string[]>("serverCommand", ["trm-lsp", "serve", "--stdio"]);
  const serverOptions: ServerOptions = { command, args };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    initializationOptions: serverSettings(),
    // Files changed outside the editor: the server registers the globs it reads
    // (workspace/didChangeWatchedFiles), as it does with every editor that can watch.
    synchronize: {
      configurationSection: SECTION,
    },
  };
  client = new LanguageClient("trm-lsp", "trm-lsp", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("trm-lsp.explainAtCursor", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) {
        return;
      }
      await runServerCommand("trm-lsp.explain", [
        { uri: editor.document.uri.toString(), line: editor.selection.active.line + 1 },
      ]);
    }),
    vscode.commands.registerCommand("trm-lsp.showStatus", async () => {
      const status = await runServerCommand("trm-lsp.status");
      const doc = await vscode.workspace.openTextDocument({ language: "json", content: JSON.stringify(status, null, 2) });
      await vscode.window.showTextDocument(doc, { preview: true });
    }),
    vscode.commands.registerCommand("trm-lsp.distillNow", () => runServerCommand("trm-lsp.distill")),
    vscode.commands.registerCommand("trm-lsp.trainNow", () => runServerCommand("trm-lsp.train")),
  );
  registerMcp(context);
  startStatusBar(context);
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
