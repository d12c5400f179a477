#include <vector>

namespace logiclab {

// A dense row-major matrix of doubles.
class Matrix {
public:
    Matrix(int rows, int cols) : rows_(rows), cols_(cols), data_(rows * cols, 0.0) {}

    double& at(int r, int c) { return data_[r * cols_ + c]; }

    // The product of two matrices; the inner loop runs over contiguous memory.
    Matrix multiply(const Matrix& other) const {
        Matrix out(rows_, other.cols_);
        for (int i = 0; i < rows_; ++i)
            for (int k = 0; k < cols_; ++k)
                for (int j = 0; j < other.cols_; ++j)
                    out.data_[i * other.cols_ + j] += data_[i * cols_ + k] * other.data_[k * other.cols_ + j];
        return out;
    }

private:
    int rows_, cols_;
    std::vector<double> data_;
};

}  // namespace logiclab
