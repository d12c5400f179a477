-- trm-lsp for Neovim: hover and "Explain this function" code lenses from the local explainer.
--
--   require("trm_lsp").setup()                        -- defaults below
--   require("trm_lsp").setup({ settings = { teacher = { model = "deepseek-r1:1.5b" } } })
--
-- Works on Neovim 0.8+ (vim.lsp.start) and on the 0.7 that Debian ships (vim.lsp.start_client).
local M = {}

M.defaults = {
  cmd = { "trm-lsp", "serve", "--stdio" },
  filetypes = { "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "java", "go", "c",
                "cpp", "rust", "sh", "bash", "html", "css", "scss", "json", "xml", "xslt", "yaml" },
  root_markers = { "trm-lsp.toml", ".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml" },
  settings = {},    -- the same keys as trm-lsp.toml, sent as initializationOptions
  codelens = true,  -- show and refresh the code lenses
}

local clients = {} -- root -> client id (0.7 only: vim.lsp.start reuses clients itself)

local function find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ":p:h")
  for _, marker in ipairs(markers) do
    local found = vim.fn.finddir(marker, dir .. ";")
    if found == "" then found = vim.fn.findfile(marker, dir .. ";") end
    if found ~= "" then
      local full = vim.fn.fnamemodify(found, ":p"):gsub("/$", "")
      return vim.fn.fnamemodify(full, ":h") -- the folder that holds the marker
    end
  end
  return vim.fn.getcwd()
end

local function on_attach(opts)
  return function(client, bufnr)
    if opts.codelens then
      vim.lsp.codelens.refresh()
      vim.api.nvim_create_autocmd({ "BufEnter", "InsertLeave", "BufWritePost" }, {
        buffer = bufnr, callback = function() vim.lsp.codelens.refresh() end })
    end
  end
end

function M.config(bufnr, opts)
  local root = find_root(vim.api.nvim_buf_get_name(bufnr), opts.root_markers)
  return {
    name = "trm-lsp",
    cmd = opts.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = opts.settings,
    settings = { ["trm-lsp"] = opts.settings },
    on_attach = on_attach(opts),
  }
end

function M.attach(bufnr, opts)
  local config = M.config(bufnr, opts)
  if vim.lsp.start then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local id = clients[config.root_dir]
  if id == nil or vim.lsp.get_client_by_id(id) == nil then
    id = vim.lsp.start_client(config)
    clients[config.root_dir] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

function M.setup(user)
  local opts = vim.tbl_deep_extend("force", M.defaults, user or {})
  vim.api.nvim_create_autocmd("FileType", {
    pattern = opts.filetypes,
    callback = function(args) M.attach(args.buf, opts) end,
  })
end

return M
