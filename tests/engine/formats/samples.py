"""Model answers in each format, written after the formats the models' cards and repositories document.

Each sample names the source of its format. They are written for these tests (no model ran
here): the tag grammar, wrappers and layout follow the cited code and examples, the text is ours.
"""

# PaddleOCR-VL "OCR:" — text lines; inline math as \( \), display math as \[ \]: PaddleX rewrites both
# (paddlex/inference/pipelines/paddleocr_vl/pipeline.py, the "\\(" / "\\[" replacements).
PADDLE_TEXT = (
    "Quarterly report 2024\n"
    "Revenue grew by 12 % while costs \\(c_t\\) stayed flat.\n"
    "\n"
    "\\[ R = \\sum_{t=1}^{4} r_t \\]\n"
    "\n"
    "All figures in thousands of euros."
)

# PaddleOCR-VL "Table Recognition:" — OTSL tags, one per grid position, <nl> ends a row
# (PaddleX uilts.py: OTSL_FCEL … OTSL_NL, convert_otsl_to_html; sglang PaddleOCR-VL cookbook note).
OTSL_SIMPLE = "<fcel>Name<fcel>Qty<fcel>Price<nl><fcel>Apple<fcel>3<fcel>1.20<nl><fcel>Pear<fcel>5<fcel>0.90<nl>"

# A header with merged cells: "Region" spans two rows, each year two columns; one empty cell.
OTSL_SPANNED = (
    "<fcel>Region<fcel>2023<lcel><fcel>2024<lcel><nl>"
    "<ucel><fcel>H1<fcel>H2<fcel>H1<fcel>H2<nl>"
    "<fcel>North<fcel>10<fcel>12<fcel>11<fcel>13<nl>"
    "<fcel>South<fcel>7<fcel>8<ecel><fcel>9<nl>"
)

# A 2 × 2 block: <lcel> to the right, <ucel> below, <xcel> diagonally (OTSL's cross cell).
OTSL_BLOCK = "<fcel>Total<lcel><fcel>x<nl><xcel><xcel><fcel>y<nl><ucel><xcel><fcel>z<nl>"

# PaddleOCR-VL "Formula Recognition:" — LaTeX, here in \[ \] as the pipeline's replacement expects.
PADDLE_FORMULA = "\\[\\frac{a}{b}=\\sum_{i=1}^{n} x_{i}^{2}\\]"

# PaddleOCR-VL "Chart Recognition:" — one row a line, cells split by "|", first line the header
# (PaddleX paddleocr_vl/result.py: format_chart2table_func).
PADDLE_CHART = "Month | Sales | Cost\nJan | 120 | 80\nFeb | 135 | 90\nMar | 150 | 95"

# GLM-OCR "Text Recognition:" — Markdown text (glmocr/postprocess/result_formatter.py: code fences,
# "- " bullets, "(1)" numbering, $$ formulas).
GLM_TEXT = (
    "## 2. Installation\n"
    "\n"
    "Install the package and run the parser:\n"
    "\n"
    "- create a virtual environment\n"
    "- install the SDK\n"
    "\n"
    "```bash\n"
    "pip install -e .\n"
    "```\n"
    "\n"
    "The cost is $O(n \\log n)$ per page."
)

# GLM-OCR "Table Recognition:" — an HTML table (zai-org/GLM-OCR examples/result/table/table.md;
# result_formatter.py keeps content that starts with "<table" and ends with "</table>").
GLM_TABLE = (
    '<table border="1"><tr><td rowspan="2">Item</td><td colspan="2">Amount</td></tr>'
    "<tr><td>This period</td><td>Last period</td></tr>"
    "<tr><td>Grants &amp; subsidies</td><td>10,102,396.61</td><td>6,417,015.44</td></tr>"
    "<tr><td>Disposal gains</td><td>-342,273.79</td><td></td></tr></table>"
)

# GLM-OCR "Formula Recognition:" — LaTeX, possibly in $$ (result_formatter.py strips $$, \[ and \().
GLM_FORMULA = "$$\nE = m c^{2}\n$$"

# The same task on an aligned derivation: several lines of one formula, as the formula tasks answer them.
GLM_FORMULA_ALIGNED = (
    "$$\n"
    "\\begin{aligned}\n"
    "f(x) &= (x + 1)^{2} \\\\\n"
    "&= x^{2} + 2x + 1\n"
    "\\end{aligned}\n"
    "$$"
)

# LightOnOCR-2 (image only, no prompt) — Markdown with HTML tables and LaTeX math
# (lightonai/LightOnOCR-2-1B model card; discussion #33 "Excessive use of HTML in Output").
LIGHTON_PAGE = (
    "# Results\n"
    "\n"
    "We measure the error $e = |y - \\hat{y}|$ on each split.\n"
    "\n"
    "$$\n"
    "\\mathrm{MAE} = \\frac{1}{n} \\sum_{i} |y_i - \\hat{y}_i|\n"
    "$$\n"
    "\n"
    "<table><thead><tr><th>Split</th><th>MAE</th></tr></thead>"
    "<tbody><tr><td>train</td><td>0.12</td></tr><tr><td>test</td><td>0.19</td></tr></tbody></table>\n"
    "\n"
    "1. Lower is better.\n"
    "2. Values are averaged over 3 runs."
)

# DeepSeek-OCR "<|grounding|>Convert the document to markdown." — each block preceded by
# <|ref|>label<|/ref|><|det|>[[x1, y1, x2, y2]]<|/det|> on a 0–999 grid
# (deepseek-ai/DeepSeek-OCR DeepSeek-OCR-master/DeepSeek-OCR-vllm/run_dpsk_ocr_image.py: re_match, / 999).
DEEPSEEK_GROUNDED = (
    "<|ref|>title<|/ref|><|det|>[[115, 166, 488, 202]]<|/det|>\n"
    "Exercise sheet 3\n"
    "\n"
    "<|ref|>sub_title<|/ref|><|det|>[[115, 232, 270, 261]]<|/det|>\n"
    "## Solutions\n"
    "\n"
    "<|ref|>text<|/ref|><|det|>[[115, 286, 875, 354]]<|/det|>\n"
    "Let \\(0 < z < 1\\) and \\(n \\in \\mathbb{N}\\). We consider the sum\n"
    "\n"
    "<|ref|>equation<|/ref|><|det|>[[431, 375, 920, 420]]<|/det|>\n"
    "\\[S_n = \\sum_{k=0}^{n} z^k \\]\n"
    "\n"
    "<|ref|>table<|/ref|><|det|>[[114, 440, 664, 496]]<|/det|>\n"
    "<table><tr><td>i</td><td>1</td><td>2</td></tr><tr><td>x &gt; 0</td><td>0</td><td>1</td></tr></table>\n"
    "\n"
    "<|ref|>image<|/ref|><|det|>[[120, 510, 860, 800]]<|/det|>\n"
    "\n"
    "\n"
    "<|ref|>image_caption<|/ref|><|det|>[[300, 805, 700, 825]]<|/det|>\n"
    "Figure 1: the partial sums.\n"
)

# DeepSeek-OCR "Free OCR." — plain text without layout (same repository, config.py prompt list).
DEEPSEEK_FREE = "Exercise sheet 3\nSolutions\n\nLet 0 < z < 1 and n a natural number.\nWe consider the sum S_n."
