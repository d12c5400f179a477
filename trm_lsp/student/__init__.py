"""The student: a Tiny Recursive Model (MLX) trained on the teacher's samples. It embeds code
and questions for retrieval and writes short explanations where the teacher has not been."""

#: How every student answer is labelled (hover, MCP, consult sources): one name, importable
#: without loading MLX.
LABEL = "TRM student"
