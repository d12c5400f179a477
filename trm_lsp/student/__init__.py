"""The student: a Tiny Recursive Model (MLX) trained on the teacher's samples. It embeds code
and questions for retrieval and writes short explanations where the teacher has not been."""
