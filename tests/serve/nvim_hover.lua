-- Driven by tests/serve/test_neovim.py: only the config from editors/neovim, then one hover.
local editors, out, file = os.getenv("TRM_EDITORS"), os.getenv("TRM_OUT"), os.getenv("TRM_FILE")
local line, col = tonumber(os.getenv("TRM_LINE")), tonumber(os.getenv("TRM_COL"))
package.path = editors .. "/neovim/lua/?.lua;" .. package.path
require("trm_lsp").setup({ cmd = { os.getenv("TRM_PYTHON"), "-m", "trm_lsp", "serve", "--no-mcp" } })
vim.cmd("edit " .. file)

local function write(text)
  local fh = io.open(out, "w")
  fh:write(text)
  fh:close()
end

local attached = vim.wait(30000, function() return #vim.lsp.buf_get_clients(0) > 0 end, 100)
if not attached then
  write("ERROR: no client attached")
  vim.cmd("qa!")
end
local params = { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = line, character = col } }
local text = nil
vim.wait(90000, function()
  local responses = vim.lsp.buf_request_sync(0, "textDocument/hover", params, 5000)
  for _, response in pairs(responses or {}) do
    if response.result and response.result.contents then
      text = response.result.contents.value
      return true
    end
  end
  return false
end, 250)
write(text or "ERROR: no hover")
vim.cmd("qa!")
