// Logistic regression as a module: Linear(3, 1) trained with SGD on binary cross-entropy with logits.
// The exam's Q6: the gradient of the mean loss with respect to W is (sigmoid(XW + b) - y)^T X / N; the program
// checks autograd's gradient against that formula before training.
using Sharpgrad;
using Sharpgrad.NN;

var gen = new Generator(1);
const int n = 500;
var x = Tensor.Randn([n, 3], gen);
var targets = new float[n];
for (int i = 0; i < n; i++) targets[i] = 1.5f * x[i, 0] - 2f * x[i, 1] + 0.5f * x[i, 2] > 0.2f ? 1 : 0;
var y = Tensor.FromArray(targets, n, 1);

var model = new Linear(3, 1, generator: gen);
var optimizer = new Sgd(model.Parameters(), lr: 0.5);

// autograd against the closed form, once
var loss = Losses.BinaryCrossEntropyWithLogits(model.Call(x), y);
model.ZeroGrad();
loss.Backward();
var closedForm = model.Call(x).Sigmoid().Sub(y).Transpose(0, 1).MatMul(x).Div(n);
var autograd = model.Parameters().First().Grad!;
double gap = closedForm.ToArray().Zip(autograd.ToArray(), (a, b) => Math.Abs(a - b)).Max();
Console.WriteLine($"dL/dW: autograd and (y_hat - y)^T X / N differ by {gap:E1} at most");

for (int step = 1; step <= 300; step++)
{
    loss = Losses.BinaryCrossEntropyWithLogits(model.Call(x), y);
    optimizer.ZeroGrad();
    loss.Backward();
    optimizer.Step();
    if (step % 100 == 0) Console.WriteLine($"step {step}: loss {loss.Item():F4}");
}
float[] p;
using (Tensor.NoGrad()) p = model.Call(x).Sigmoid().ToArray();
double accuracy = p.Where((v, i) => (v >= 0.5) == (targets[i] == 1)).Count() / (double)n;
Console.WriteLine($"training accuracy {accuracy:P1}");
return gap < 1e-5 && accuracy > 0.95 ? 0 : 1;
