"""Every exam-style question of the course, in one place.

Each function returns a :class:`~utils.quiz.Question` whose explanation cites the numbers the
learner measured (its ``{placeholders}`` are filled from a chapter's evidence).

* :func:`flower_exam_question` and :func:`chapter03_question` are the two questions of the
  study notes, with their letters and answers as set (``tests/test_questions.py`` pins them);
* :func:`chapter02_question`, :func:`pipeline_question` and :func:`review_questions` are the
  course's own self-checks;
* :func:`practice_questions` are further exam-style scenarios on transfer learning and its
  SageMaker side, explained with chapter 07's measurements (:data:`PRACTICE_EVIDENCE_KEYS`).

AWS facts in the explanations come from AWS's documentation (the SageMaker developer guide,
June 2023 snapshot, and the API reference); each is dated or qualified where it may change.
"""

from __future__ import annotations

from .quiz import Question


def chapter02_question():
    """Exam question for chapter 02: small data, which approach? (answer: B)."""
    return Question(
        prompt=("You have a dozen or so labelled photos per class and a CPU laptop. Which "
                "approach should you try first?"),
        options={
            "A": "Train the same architecture from scratch: the features will fit my data.",
            "B": "Feature extraction: freeze the pretrained body, train a new linear head.",
            "C": "Fine-tune the whole network at one high learning rate.",
            "D": "Keep the ImageNet output layer and predict with it directly.",
        },
        answer="B",
        explanation=(
            "On your run, feature extraction reached {fe_acc:.0%} test accuracy in "
            "{fe_seconds:.1f} s, while training from scratch reached {scratch_acc:.0%} in "
            "{scratch_seconds:.0f} s with the same data and seeds. Fine-tuning reached "
            "{ft_acc:.0%}: it can win with more data and epochs, but costs more and needs "
            "care (BatchNorm, lower body learning rate)."),
        why_wrong={
            "A": ("A random network must learn edges, textures and parts from your few "
                  "images: it reached only {scratch_acc:.0%}."),
            "C": ("One high rate for the whole network overwrites the pretrained features: "
                  "with a single rate fine-tuning reached {single_lr_acc:.0%} against "
                  "{group_lr_acc:.0%} with a lower body rate."),
            "D": "The ImageNet layer scores 1000 ImageNet classes, not yours.",
        },
    )


def chapter03_question():
    """The cat-breed exam question as set (answer: C). Evidence keys: ``acc_A`` .. ``acc_D``."""
    return Question(
        prompt=("A machine learning specialist has collected a large training dataset of "
                "labelled photos of many cat breeds. To build a breed classifier they start "
                "from a convolutional network that was pretrained on ImageNet. How should the "
                "network's weights be initialised?"),
        options={
            "A": "Random weights in every layer: retrain the whole network from scratch.",
            "B": "The pretrained weights in every layer, the output layer included.",
            "C": ("The pretrained weights in every layer except the output layer, which starts "
                  "from random weights."),
            "D": ("Random weights in every layer except the output layer, which keeps its "
                  "pretrained weights."),
        },
        answer="C",
        explanation=(
            "The body's pretrained features are what transfers; the output layer is "
            "specific to ImageNet's 1000 classes and must be replaced by one with a unit per "
            "breed, starting from random weights. A large dataset does not change that: it "
            "lets you fine-tune more of the body afterwards. SageMaker's built-in image "
            "classification algorithm does exactly C when use_pretrained_model=1 (AWS's "
            "developer guide: it re-initialises only the top fully connected layer). Measured "
            "here, on a small set: C {acc_C:.0%}, A {acc_A:.0%}, B (reused ImageNet rows) "
            "{acc_B:.0%}, D {acc_D:.0%}."),
        why_wrong={
            "A": ("From scratch throws away the features the network already has and pays to "
                  "relearn them: {acc_A:.0%} against {acc_C:.0%} for C at the same budget."),
            "B": ("The pretrained output layer is specific to ImageNet: it has 1000 units, one "
                  "per ImageNet class, not one per breed, so it does not even fit. Reusing some "
                  "of its rows ran, reaching {acc_B:.0%} (C: {acc_C:.0%}), but needs a "
                  "class-to-ImageNet mapping that most tasks do not have."),
            "D": ("D throws the feature extractor away and keeps the one layer that cannot be "
                  "reused: pretrained output weights read pretrained features, and on a "
                  "random body they are meaningless: {acc_D:.0%}."),
        },
    )


def flower_exam_question():
    """The flower-species exam question as set (answer: B). Evidence keys: ``transfer_acc``,
    ``transfer_seconds``, ``scratch_acc``, ``scratch_seconds``."""
    return Question(
        prompt=("An organisation runs a convolutional neural network that detects flowers in "
                "photos. It now wants to tell flower species apart, and to get there quickly "
                "and at a low cost. What should it do?"),
        options={
            "A": ("Connect the existing CNN to Amazon Lex and use Lex's natural-language "
                  "understanding to name the species."),
            "B": ("Apply transfer learning with Amazon SageMaker: keep the existing CNN's "
                  "learned feature layers and fine-tune it, with a new output layer, on "
                  "labelled photos of the species."),
            "C": ("Use SageMaker's built-in image classification algorithm to train a new model "
                  "from scratch on the species photos, with hyperparameter optimisation to "
                  "find the best settings."),
            "D": ("Deploy the current CNN to AWS DeepLens and add a real-time feedback loop so "
                  "that the model keeps learning the species continuously."),
        },
        answer="B",
        explanation=("Transfer learning reuses what the detector already learned and trains "
                     "little on top. Measured: transfer reached {transfer_acc:.0%} species "
                     "accuracy in {transfer_seconds:.1f} s of compute; from scratch with a "
                     "hyperparameter search reached {scratch_acc:.0%} in "
                     "{scratch_seconds:.0f} s."),
        why_wrong={
            "A": ("Amazon Lex builds conversational interfaces (chatbots, voice and text); it "
                  "does not classify images, so it adds nothing to the CNN."),
            "C": ("The flaw is 'from scratch', not the built-in algorithm (which itself "
                  "supports transfer learning with use_pretrained_model=1): it throws away the "
                  "learned features and pays for every trial of the search. Measured: "
                  "{scratch_acc:.0%} in {scratch_seconds:.0f} s against {transfer_acc:.0%} in "
                  "{transfer_seconds:.1f} s for transfer."),
            "D": ("DeepLens was a camera for real-time video inference at the edge, not a way "
                  "to train a precise species classifier from still images, and a feedback "
                  "loop does not label the species for you. AWS announced its end of life on "
                  "31 January 2023; it took effect on 31 January 2024."),
        },
    )


def pipeline_question():
    """Self-check on the SageMaker side of the flower scenario (answer: B). Evidence keys:
    ``endpoint_acc``, ``trials``."""
    return Question(
        prompt=("The organisation from chapter 05 wants its species classifier trained and "
                "served on SageMaker at the lowest cost. Which plan fits?"),
        options={"A": "Train from scratch in a tuning job with a large trial budget, then "
                      "deploy the best trial",
                 "B": "Fine-tune the existing network in a script-mode training job on managed "
                      "spot capacity with checkpoints, tune a few trials if needed, deploy the "
                      "model to an endpoint and delete the endpoint when it is not needed",
                 "C": "Run one on-demand training job without checkpoints and keep the endpoint "
                      "running between uses so it is always warm",
                 "D": "Use managed spot training without checkpoints to save the most money"},
        answer="B",
        explanation=("Transfer learning keeps each trial cheap; here {trials} trials ran and "
                     "the deployed model scored {endpoint_acc:.0%} on held-out photos."),
        why_wrong={"A": "From scratch discards the learned features (chapter 05) and a large "
                        "trial budget multiplies the cost.",
                   "C": "On demand costs more than spot, and an instance-backed real-time "
                        "endpoint bills for every hour it exists, busy or idle (serverless "
                        "inference and batch transform do not bill while idle).",
                   "D": "Without checkpoints an interrupted spot job starts over, losing the "
                        "savings."},
    )


def review_questions() -> dict:
    """More exam-style questions on the course's topics, keyed by topic.

    Their explanations state the principles; the notebooks that measured them are named.
    """
    return {
        "freezing": Question(
            prompt=("You replaced the output layer of an ImageNet CNN for a new task with a few "
                    "hundred images similar to ImageNet photos. What do you train first?"),
            options={"A": "Every layer, at a high learning rate",
                     "B": "Only the new output layer, with the pretrained body frozen",
                     "C": "Only the first convolutional layer",
                     "D": "Nothing: the pretrained network already knows the classes"},
            answer="B",
            explanation=("Feature extraction is cheap (embed once, train a linear layer) and "
                         "works well when data are few and similar (chapters 02 and 04)."),
            why_wrong={"A": "A high rate on every layer overwrites the pretrained features.",
                       "C": "The first layer holds generic edges; the new task needs its own "
                            "output layer.",
                       "D": "A new output layer starts random; it must be trained."}),
        "batchnorm": Question(
            prompt=("You freeze a pretrained body with requires_grad=False and train the head "
                    "with model.train(). What happens to the body's BatchNorm layers?"),
            options={"A": "Nothing: frozen means frozen",
                     "B": "Their running mean and variance keep moving towards the new data's "
                          "statistics (a moving average, momentum 0.1), silently changing the "
                          "'frozen' body",
                     "C": "Their weights receive gradient updates",
                     "D": "Training raises an error"},
            answer="B",
            explanation=("requires_grad stops gradient updates but not the running-statistics "
                         "update in train mode: each batch moves the running mean and variance "
                         "a step (PyTorch's momentum, 0.1 by default) towards its own "
                         "statistics. Keep frozen BatchNorm layers in eval mode (chapter 02 "
                         "measures the effect)."),
            why_wrong={"A": "Running statistics are buffers, not parameters: they still update.",
                       "C": "With requires_grad=False no gradient reaches them.",
                       "D": "It runs without any warning, which is why it is a pitfall."}),
        "learning_rates": Question(
            prompt="When you fine-tune a pretrained body with a new head, which learning rates?",
            options={"A": "The same high rate everywhere",
                     "B": "A lower rate for the pretrained body than for the new head",
                     "C": "A higher rate for the body than for the head",
                     "D": "Zero for the head"},
            answer="B",
            explanation=("The body's weights are already good and need small nudges; the random "
                         "head needs to move far (chapters 02 and 04 use body = head / 10)."),
            why_wrong={"A": "A high rate on the body destroys the features you came for.",
                       "C": "That nudges the new head least and the good body most.",
                       "D": "A head that does not train never learns your classes."}),
        "data_vs_domain": Question(
            prompt=("You have a large labelled data set (hundreds of thousands of images) from a "
                    "domain unlike ImageNet's photos (e.g. microscopy). Best starting point?"),
            options={"A": "Feature extraction only: the body must stay frozen",
                     "B": "Fine-tune the whole network starting from the pretrained weights",
                     "C": "Keep the ImageNet output layer",
                     "D": "Amazon Lex"},
            answer="B",
            explanation=("With much data the network can adapt every layer; starting from "
                         "pretrained weights rarely hurts and usually converges faster. "
                         "Frozen ImageNet features transfer worse across a domain gap "
                         "(chapter 02's digits experiment)."),
            why_wrong={"A": "Frozen features fit a distant domain worst, and the data could "
                            "train much more.",
                       "C": "Its 1000 ImageNet classes are not your classes.",
                       "D": "Lex builds chatbots."}),
        "spot": Question(
            prompt=("A SageMaker training job runs for hours and may be interrupted. With the "
                    "SageMaker Python SDK v3's ModelTrainer, how do you cut its cost the most?"),
            options={"A": "Managed spot training: Compute(enable_managed_spot_training=True), "
                          "a StoppingCondition whose max_wait_time_in_seconds is at least "
                          "max_runtime_in_seconds, and a CheckpointConfig(s3_uri=...) the "
                          "script saves to and resumes from",
                     "B": "A bigger on-demand instance",
                     "C": "A real-time endpoint",
                     "D": "Managed spot training with checkpoints turned off"},
            answer="A",
            explanation=("AWS states managed spot training saves up to 90% over on-demand; "
                         "checkpoints let an interrupted job resume (chapter 06 runs exactly "
                         "this ModelTrainer configuration)."),
            why_wrong={"B": "A bigger instance costs more per hour; it only pays off if the "
                            "job speeds up proportionally.",
                       "C": "Endpoints serve predictions; they do not train.",
                       "D": "Without checkpoints an interrupted spot job starts over."}),
        "endpoints": Question(
            prompt=("A web app must get a species prediction for each uploaded photo within a "
                    "second, all day. How do you serve the model on SageMaker?"),
            options={"A": "Batch transform, once a night",
                     "B": "A real-time endpoint (model.deploy)",
                     "C": "A training job per request",
                     "D": "AWS DeepLens"},
            answer="B",
            explanation=("Real-time endpoints answer individual requests with low latency; "
                         "batch transform scores whole data sets offline (chapter 06). Serverless "
                         "inference would also answer requests, with cold starts after idle "
                         "periods; for steady all-day traffic a real-time endpoint is the fit."),
            why_wrong={"A": "Nightly batches cannot answer within a second.",
                       "C": "A training job takes minutes to start and trains; it does not "
                            "serve.",
                       "D": "DeepLens was an edge camera for video; AWS ended it on 31 January "
                            "2024."}),
    }



#: What chapter 07 measures for :func:`practice_questions` (their ``{placeholders}``).
PRACTICE_EVIDENCE_KEYS = (
    "acc_matched", "acc_small_input", "small_input", "acc_wrong_norm", "acc_no_norm",
    "lite0_mb", "resnet50_mb", "small_cnn_mb", "lite0_ms", "resnet50_ms", "small_cnn_ms",
    "head_share", "scratch_train", "scratch_val", "transfer_train", "transfer_val",
    "shape_pref", "random_shape_pref", "transfer_acc", "transfer_seconds", "scratch_acc",
    "scratch_seconds", "idle_day_usd",
)


def practice_questions() -> dict:
    """Exam-style scenarios on transfer learning and its SageMaker side, keyed by topic.

    Each has four options and one answer; every option is explained. Placeholders are filled
    from chapter 07's measurements (keys: :data:`PRACTICE_EVIDENCE_KEYS`); chapters that
    measured something chapter 07 does not recompute are named instead.
    """
    return {
        "small_data_start": Question(
            prompt=("A start-up has 20 labelled photos for each of 6 product types and one "
                    "laptop without a GPU. It needs a first classifier today. What should it "
                    "do first?"),
            options={"A": "Train the same CNN from random weights until training accuracy "
                          "reaches 100%",
                     "B": "Freeze a pretrained CNN's body, embed the photos once and train a "
                          "new output layer on the embeddings",
                     "C": "Fine-tune every layer of a pretrained CNN at a learning rate of 0.1 "
                          "so it forgets ImageNet quickly",
                     "D": "Use the pretrained network's 1000 ImageNet outputs and map the top "
                          "label to a product type by name"},
            answer="B",
            explanation=("Feature extraction costs one forward pass per photo and a small "
                         "linear layer. Chapter 07 measured it at {transfer_val:.0%} "
                         "validation accuracy where the same network from scratch reached "
                         "{scratch_val:.0%}."),
            why_wrong={"A": ("100% on the training set is memorisation: from scratch reached "
                             "{scratch_train:.0%} on training images but {scratch_val:.0%} on "
                             "validation (chapter 07)."),
                       "C": ("A high rate on every layer overwrites the features you came for "
                             "(chapter 02 compares one rate with a lower body rate)."),
                       "D": ("ImageNet's classes are not your classes; chapter 03 needed an "
                             "explicit class-to-unit mapping to reuse any ImageNet rows.")}),
        "preprocessing_mismatch": Question(
            prompt=("A team feeds 32-pixel images, normalised with another network's mean and "
                    "standard deviation, to a pretrained EfficientNet-Lite0 whose weights were "
                    "trained on 224-pixel images normalised to [-1, 1]. Which statement is "
                    "right?"),
            options={"A": "Preprocessing does not matter: the new output layer adapts to "
                          "anything",
                     "B": "Feed the input size and normalisation the pretrained weights were "
                          "trained with; every mismatch costs accuracy",
                     "C": "Smaller inputs are always better for transfer: fewer pixels, less "
                          "noise",
                     "D": "Normalisation only matters when training from scratch"},
            answer="B",
            explanation=("Transfer learning depends on the pretrained architecture and its "
                         "input conventions. Chapter 07: a linear head on frozen features "
                         "reached {acc_matched:.0%} with the expected preprocessing, "
                         "{acc_small_input:.0%} at {small_input} px, {acc_wrong_norm:.0%} with "
                         "another network's normalisation and {acc_no_norm:.0%} with none."),
            why_wrong={"A": ("The head only sees what the frozen body makes of the pixels: "
                             "{acc_small_input:.0%} at {small_input} px against "
                             "{acc_matched:.0%} (chapter 07)."),
                       "C": ("Below the size the filters were trained at, the objects shrink "
                             "to a few activations: {acc_small_input:.0%} at {small_input} px "
                             "(chapter 07)."),
                       "D": ("Frozen pretrained layers expect the statistics they were trained "
                             "on: {acc_no_norm:.0%} without normalisation (chapter 07).")}),
        "grey_images": Question(
            prompt=("A hospital wants to reuse an ImageNet-pretrained CNN for grey-scale "
                    "radiographs stored with one channel. What do you do with the input?"),
            options={"A": "Feed the one-channel tensor as it is; PyTorch broadcasts it to "
                          "three channels",
                     "B": "Repeat the grey channel three times (or sum the first layer's "
                          "weights over its colour channels) so the pretrained stem gets the "
                          "input it was built for",
                     "C": "Retrain the whole network from scratch: pretrained weights cannot "
                          "read grey images",
                     "D": "Colour the radiographs with a random palette so they look like "
                          "photos"},
            answer="B",
            explanation=("The stem's weights have a fixed shape (32 filters x 3 colour "
                         "channels x 3 x 3 for EfficientNet-Lite0): a dependence on the "
                         "existing architecture. Chapter 08's radiographs are grey images "
                         "saved as three equal channels, and transfer worked on them."),
            why_wrong={"A": ("The convolution refuses a one-channel input with a shape error "
                             "(chapter 07 shows PyTorch's message)."),
                       "C": ("The pretrained features still help on grey images; chapter 08 "
                             "measured transfer against from scratch on them."),
                       "D": ("Random colours add noise that carries no information and differs "
                             "between images.")}),
        "model_size": Question(
            prompt=("A model must run on a small device with a tight memory and latency "
                    "budget. The only pretrained network the team has is a ResNet-50. What "
                    "should they know?"),
            options={"A": "Fine-tuning shrinks the network, so the ResNet-50 will fit after "
                          "training",
                     "B": "Transfer learning inherits the backbone's size: choose a smaller "
                          "pretrained backbone or a compact custom architecture trained from "
                          "scratch",
                     "C": "Replacing the 1000-class output layer with a small one makes the "
                          "model several times smaller",
                     "D": "Freezing more layers reduces the file size of the model"},
            answer="B",
            explanation=("Chapter 07 measured the bodies: ResNet-50 {resnet50_mb:.0f} MB and "
                         "{resnet50_ms:.0f} ms per image on this CPU, EfficientNet-Lite0 "
                         "{lite0_mb:.0f} MB and {lite0_ms:.0f} ms, a small custom CNN "
                         "{small_cnn_mb:.2f} MB and {small_cnn_ms:.1f} ms."),
            why_wrong={"A": "Training changes the values of the weights, not their number.",
                       "C": ("The output layer is a small part of the network: a 12-class head "
                             "is {head_share:.2%} of EfficientNet-Lite0's parameters "
                             "(chapter 07)."),
                       "D": ("Frozen weights are still stored and still computed at "
                             "prediction time; freezing only saves training work.")}),
        "overfitting": Question(
            prompt=("A data scientist trains a CNN from random weights on 60 images. Training "
                    "accuracy climbs to 95% while validation accuracy stays near chance. What "
                    "is happening, and what is the best first fix?"),
            options={"A": "Underfitting: train for many more epochs",
                     "B": "Overfitting: start from pretrained weights and train a new head "
                          "(or collect far more data)",
                     "C": "The learning rate is too low: raise it tenfold",
                     "D": "The validation set is faulty: merge it into the training set"},
            answer="B",
            explanation=("With few images a random network memorises them. Chapter 07 measured "
                         "the gap: from scratch {scratch_train:.0%} train vs {scratch_val:.0%} "
                         "validation; transfer {transfer_train:.0%} vs {transfer_val:.0%}."),
            why_wrong={"A": ("More epochs widen the gap; training accuracy is already high "
                             "({scratch_train:.0%} from scratch in chapter 07)."),
                       "C": "A higher rate does not give a random network the missing data.",
                       "D": ("Without held-out images you can no longer see the overfitting; "
                             "it does not go away.")}),
        "domain_gap": Question(
            prompt=("A lab has 200,000 labelled grey-scale microscopy images. Frozen ImageNet "
                    "features with a new head give mediocre accuracy. What is the most "
                    "promising next step?"),
            options={"A": "Keep the body frozen and train the head longer: the domain does not "
                          "matter",
                     "B": "Fine-tune many or all layers from the pretrained weights, and "
                          "compare with a network trained from scratch, since data are "
                          "plentiful",
                     "C": "Cut the data set to 500 images so the model cannot overfit",
                     "D": "Replace the CNN with Amazon Lex"},
            answer="B",
            explanation=("Far from ImageNet's photos the frozen features fit worst (the domain "
                         "gap), and with plentiful in-domain data every layer can adapt. "
                         "Chapter 08 measured the gap on three kinds of images and found a "
                         "small custom CNN from scratch catching up as radiograph data grew."),
            why_wrong={"A": ("A longer-trained head still reads the same frozen features; "
                             "chapter 02's digits and chapter 08's radiographs show what a "
                             "domain gap costs them."),
                       "C": "Throwing data away lowers the accuracy ceiling.",
                       "D": "Lex builds chatbots; it does not classify images."}),
        "inherited_bias": Question(
            prompt=("A model pretrained on a large web photo collection is transferred to a "
                    "new task with a small data set. Which risk is specific to transfer "
                    "learning?"),
            options={"A": "The new model can inherit preferences and biases of the pretraining "
                          "data, so it must be evaluated on your own data, group by group",
                     "B": "None: retraining the output layer removes every bias of the "
                          "pretrained network",
                     "C": "Bias can only come from the labels of the new data set",
                     "D": "Bias only affects models trained from scratch"},
            answer="A",
            explanation=("The features come with what the pretraining data taught them. "
                         "Chapter 07 measured it on images where shape and texture disagree: "
                         "a head on pretrained features followed shape in {shape_pref:.0%} of "
                         "the conflicts, the same architecture with random weights in "
                         "{random_shape_pref:.0%}."),
            why_wrong={"B": ("The new head reads the same features; the preference measured "
                             "in chapter 07 is in the body."),
                       "C": ("The frozen body was shaped by another data set entirely "
                             "(chapter 07: {shape_pref:.0%} vs {random_shape_pref:.0%} shape "
                             "decisions with and without pretraining)."),
                       "D": ("Training from scratch learns only your data's biases; transfer "
                             "adds the pretraining data's.")}),
        "builtin_transfer_mode": Question(
            prompt=("With SageMaker's built-in image classification algorithm, a team wants "
                    "transfer learning for 12 cat breeds. Which hyperparameters do that?"),
            options={"A": "use_pretrained_model=1, num_classes=12, num_layers=18 (or 34, 50, "
                          "101, 152, 200), image_shape='3,224,224'",
                     "B": "use_pretrained_model=0 and num_layers=152 for more capacity",
                     "C": "use_pretrained_model=1 and num_classes=1000 to keep the ImageNet "
                          "output layer",
                     "D": "use_pretrained_model=1 with num_layers=20 for speed"},
            answer="A",
            explanation=("use_pretrained_model=1 loads ImageNet weights and re-initialises only "
                         "the top fully connected layer, then fine-tunes the whole network: "
                         "the cat question's answer C (AWS developer guide, June 2023). "
                         "Chapter 05 writes this configuration out."),
            why_wrong={"B": "use_pretrained_model=0 (the default) starts from random weights: "
                            "training from scratch.",
                       "C": "num_classes sets the output layer: it must be 12, one per breed.",
                       "D": ("20 is one of the depths for small, CIFAR-sized images; transfer "
                             "learning allows only 18, 34, 50, 101, 152 or 200 (AWS developer "
                             "guide).")}),
        "builtin_input_format": Question(
            prompt=("You train SageMaker's original built-in image classification algorithm "
                    "on JPEG files in File mode, without converting them to RecordIO. Which "
                    "channels does the job need?"),
            options={"A": "Only a train channel with RecordIO files",
                     "B": "train and validation channels with the images, plus train_lst and "
                          "validation_lst channels with .lst files (index, label, relative "
                          "path)",
                     "C": "One CSV file with one pixel per column",
                     "D": "A single channel with one sub-folder per class and nothing else"},
            answer="B",
            explanation=("Raw images need the four channels and tab-separated .lst files "
                         "(AWS developer guide, June 2023). Chapter 05 writes a .lst file for "
                         "its flower split."),
            why_wrong={"A": ("RecordIO is the recommended format, but then the job needs "
                             "train and validation .rec files, and the question keeps JPEGs."),
                       "C": "CSV is for tabular algorithms such as XGBoost.",
                       "D": ("Folders per class are the input of the newer Image "
                             "Classification - TensorFlow algorithm, not of this one.")}),
        "builtin_instances": Question(
            prompt=("Which instances can train SageMaker's original built-in image "
                    "classification algorithm?"),
            options={"A": "ml.m5.xlarge, to save money",
                     "B": "GPU instances (for example P2, P3, G4dn or G5); CPU instances can "
                          "serve its inference",
                     "C": "ml.t3.medium, like a Studio notebook",
                     "D": "Serverless inference endpoints"},
            answer="B",
            explanation=("AWS lists the algorithm as GPU-only for training (developer guide, "
                         "June 2023); chapter 05 estimates a job's cost on ml.g4dn.xlarge."),
            why_wrong={"A": "A CPU instance is not supported for this algorithm's training.",
                       "C": "t3 instances are for notebooks, not this training job.",
                       "D": "Endpoints serve predictions; they do not train."}),
        "builtin_image_size": Question(
            prompt=("Your photos are 150 x 150 pixels and you want use_pretrained_model=1 with "
                    "the built-in image classification algorithm. What do you do?"),
            options={"A": "Set image_shape='3,150,150'",
                     "B": "Upscale the images so none is smaller than 224 x 224 and keep "
                          "image_shape='3,224,224'",
                     "C": "Set num_layers=20, the depth for small images",
                     "D": "Nothing: the algorithm pads small images automatically"},
            answer="B",
            explanation=("The pretrained networks need a fixed 224 x 224 input, and training "
                         "fails if any image is smaller (AWS developer guide, June 2023). "
                         "Chapter 07 measured what a size mismatch costs pretrained features: "
                         "{acc_small_input:.0%} at {small_input} px against {acc_matched:.0%}."),
            why_wrong={"A": "Pretrained mode does not accept another size.",
                       "C": "Depth 20 is not available with transfer learning.",
                       "D": "Images smaller than image_shape make training fail; they are "
                            "cropped when larger, never padded."}),
        "spot_max_wait": Question(
            prompt=("A managed spot training job has max_runtime_in_seconds=3600. Which "
                    "max_wait_time_in_seconds is valid?"),
            options={"A": "1800: half the run time, to fail fast",
                     "B": "7200: at least the run time, since it covers waiting for spot "
                          "capacity plus running",
                     "C": "0: start immediately",
                     "D": "None: managed spot training needs no wait limit"},
            answer="B",
            explanation=("The wait limit counts waiting and running together, so it must be at "
                         "least the maximum run time (AWS API reference; the 2023 developer "
                         "guide says 'larger than'). Chapter 06 sets it from its parameters."),
            why_wrong={"A": "A wait limit below the run time is rejected.",
                       "C": "Zero leaves no time to run.",
                       "D": "Managed spot training requires a wait limit."}),
        "rarely_used_endpoint": Question(
            prompt=("A CPU-sized image model gets a few requests a day at unpredictable times, "
                    "and a slow first answer is acceptable. Which hosting costs least?"),
            options={"A": "A real-time endpoint on ml.m5.large, kept running",
                     "B": "Serverless inference: billed per millisecond of compute and per "
                          "byte processed, nothing while idle",
                     "C": "A real-time endpoint on a GPU instance",
                     "D": "A batch transform job started for every request"},
            answer="B",
            explanation=("Only instance-backed real-time endpoints bill for every hour they "
                         "exist. Serverless inference bills per request's compute and data "
                         "(AWS developer guide); cold starts are its price."),
            why_wrong={"A": ("It bills around the clock: {idle_day_usd:.2f} dollars a day "
                             "idle at the course's (third-party) ml.m5.large rate."),
                       "C": "A GPU instance costs more per hour and also bills while idle.",
                       "D": ("A batch job starts instances for minutes per request: slow "
                             "answers and start-up time billed each time.")}),
        "monthly_scoring": Question(
            prompt=("Once a month, two million archived images must be classified; nobody "
                    "waits for individual answers. Which SageMaker option fits?"),
            options={"A": "A real-time endpoint left running all month",
                     "B": "A batch transform job: instances exist only while the job runs",
                     "C": "Serverless inference, one request per image",
                     "D": "A training job"},
            answer="B",
            explanation=("Batch transform scores a whole data set offline and releases its "
                         "instances at the end, so nothing bills in between."),
            why_wrong={"A": ("An instance-backed endpoint bills every hour of the month, "
                             "{idle_day_usd:.2f} dollars a day idle on ml.m5.large at the "
                             "course's (third-party) rate."),
                       "C": ("Two million requests, each at most 4 MB and one image, throttled "
                             "above the concurrency limit: workable, but more calls and more "
                             "overhead than one batch job."),
                       "D": "Training jobs fit models; they do not score archives."}),
        "serverless_gpu": Question(
            prompt=("A team wants serverless inference for a large model that needs a GPU. "
                    "What do you tell them?"),
            options={"A": "Choose a serverless memory size of 6 GB to get a GPU",
                     "B": "Serverless inference does not support GPUs: use a real-time "
                          "endpoint on a GPU instance, or make the model small enough for a "
                          "CPU",
                     "C": "Set ProvisionedConcurrency to get GPUs",
                     "D": "Serverless inference runs on GPUs by default"},
            answer="B",
            explanation=("AWS lists GPUs among the features serverless inference does not "
                         "support (developer guide); memory is 1 to 6 GB of CPU memory."),
            why_wrong={"A": "Memory size scales vCPUs, never GPUs.",
                       "C": "Provisioned concurrency keeps instances warm; it adds no GPU.",
                       "D": "It does not; GPUs are unsupported."}),
        "what_to_fine_tune": Question(
            prompt=("You have 10,000 labelled images that look like everyday photos, and a GPU "
                    "for a few hours. After training a new head on the frozen body, what next?"),
            options={"A": "Nothing more can help; stop",
                     "B": "Unfreeze the top stages and fine-tune them with a lower learning "
                          "rate than the head's, keeping frozen BatchNorm layers in eval mode",
                     "C": "Re-initialise the body randomly and train everything",
                     "D": "Freeze the head and train only the first convolution"},
            answer="B",
            explanation=("With enough data, fine-tuning the top stages adapts the features at "
                         "little risk; chapters 02 and 04 run this recipe."),
            why_wrong={"A": "With 10,000 images fine-tuning usually adds accuracy.",
                       "C": ("Random re-initialisation throws the features away: chapter 07 "
                             "measured from scratch at {scratch_val:.0%} validation accuracy "
                             "on a small set."),
                       "D": "The first layers hold generic edges; the top ones are specific."}),
        "output_layer_shape": Question(
            prompt=("You replace EfficientNet-Lite0's ImageNet output layer for 12 cat breeds. "
                    "What is the shape of the new layer's weight matrix in PyTorch?"),
            options={"A": "12 x 1280",
                     "B": "1000 x 1280",
                     "C": "12 x 2048",
                     "D": "1280 x 12 x 1000"},
            answer="A",
            explanation=("nn.Linear stores (outputs x inputs): one row per breed, one column "
                         "per feature of the body's 1280-number feature vector (chapters 03 "
                         "and 05 print it)."),
            why_wrong={"B": "1000 x 1280 is the ImageNet layer being replaced.",
                       "C": ("2048 is ResNet-50's feature size (the study notes' example), "
                             "not EfficientNet-Lite0's."),
                       "D": "A linear layer has a two-dimensional weight matrix."}),
        "one_body_two_heads": Question(
            prompt=("The flower organisation wants one model that says both whether there is "
                    "a flower and which species, at the price of one forward pass. What do "
                    "you build?"),
            options={"A": "Two separate CNNs, one per question",
                     "B": "One shared body with two heads: the existing detector head and a "
                          "new species head",
                     "C": "A new network trained from scratch with one output per species "
                          "plus 'no flower'",
                     "D": "The detector on AWS DeepLens, with the species named by Amazon Lex"},
            answer="B",
            explanation=("The species head reads the same feature vector as the detector head, "
                         "so both answers cost one pass through the body (chapter 05's "
                         "TwoHeadedModel)."),
            why_wrong={"A": "Two bodies cost two forward passes and twice the memory.",
                       "C": ("From scratch is the flaw: {scratch_acc:.0%} against "
                             "{transfer_acc:.0%} with transfer (chapter 05)."),
                       "D": ("DeepLens ended on 31 January 2024, and Lex is a chatbot "
                             "service.")}),
        "defect_types": Question(
            prompt=("A factory's general model tells defective parts from good ones across "
                    "many product lines. A new line needs the defect type (scratch, crack, "
                    "hole, stain), with about 40 labelled images per type. What is the best "
                    "approach?"),
            options={"A": "Train a new CNN from scratch on the 160 images",
                     "B": "Keep the general model's feature layers, add a defect-type head and "
                          "train it on the labelled images",
                     "C": "Use the general model unchanged: it already knows what a defect is",
                     "D": "Wait until a million images per type are collected"},
            answer="B",
            explanation=("That is the flower story again: a general detector extended to "
                         "sub-classes. Chapter 08 measured it against from scratch on the same "
                         "images and budget."),
            why_wrong={"A": ("From scratch on a few images stays near chance at the same "
                             "budget (chapter 08)."),
                       "C": "It has no output for defect types; it only says 'defect'.",
                       "D": "Transfer learning exists to avoid that wait."}),
        "lab_to_field": Question(
            prompt=("A plant-recognition model extended to five leaf diseases scores well on "
                    "lab photos with plain backgrounds but poorly on farmers' field photos. "
                    "What is the most likely cause and fix?"),
            options={"A": "A domain gap between lab and field images: collect labelled field "
                          "photos and fine-tune on them",
                     "B": "The head's learning rate was too low",
                     "C": "The output layer has too many units",
                     "D": "Transfer learning cannot work for plants"},
            answer="A",
            explanation=("Accuracy holds where training and use look alike. Chapter 08 shows "
                         "the domain gap as numbers for three kinds of images."),
            why_wrong={"B": "It scored well on lab photos, so the head did learn.",
                       "C": "Five classes need five units; the size is right.",
                       "D": "Chapter 08's plant case measured transfer well above from "
                            "scratch."}),
        "radiograph_finding": Question(
            prompt=("A hospital has a chest-radiograph model that flags 'abnormal'. It wants "
                    "the specific finding (nodule, effusion, cardiomegaly, pneumothorax) with "
                    "a few hundred labelled images. What should it do?"),
            options={"A": "Extend the abnormal-vs-normal model with a finding head on its "
                          "feature layers, and check it against a simple baseline and a model "
                          "from scratch",
                     "B": "Train a new network from scratch on the few hundred images",
                     "C": "Use the ImageNet output layer: it has medical classes",
                     "D": "Use a general image-labelling API, which names findings out of "
                          "the box"},
            answer="A",
            explanation=("Chapter 08 does exactly this and measures it against from scratch "
                         "and against logistic regression on raw pixels, with the domain gap "
                         "shown as numbers."),
            why_wrong={"B": "At the same budget from scratch stayed near chance (chapter 08).",
                       "C": "ImageNet's 1000 classes contain no radiograph findings.",
                       "D": "General labels (objects, scenes) are not diagnoses."}),
        "plentiful_custom": Question(
            prompt=("A company has five million labelled satellite images with 13 spectral "
                    "bands and a large GPU budget, and wants the best accuracy. What should it "
                    "consider seriously?"),
            options={"A": "Only a frozen ImageNet body with a new head",
                     "B": "A custom architecture for 13 bands trained from scratch, compared "
                          "with fine-tuning a pretrained network",
                     "C": "Cutting the data to 1% to save cost",
                     "D": "Amazon Lex"},
            answer="B",
            explanation=("Training from scratch pays off with plentiful in-domain data and an "
                         "input unlike RGB photos: the architecture can be designed for the "
                         "task. Chapter 08 measured a small custom CNN from scratch catching "
                         "up with transfer as radiograph data grew."),
            why_wrong={"A": ("A frozen RGB body cannot read 13 bands without changes, and "
                             "frozen features fit a distant domain worst."),
                       "C": "Discarding data throws away the advantage the company has.",
                       "D": "Lex builds chatbots."}),
        "cost_ratio": Question(
            prompt=("Training on SageMaker is billed per second of instance time. How does the "
                    "cost of transfer learning compare with training from scratch with a "
                    "hyperparameter search?"),
            options={"A": "About the same: per-second billing evens it out",
                     "B": "Transfer costs a fraction, because cost follows compute seconds and "
                          "transfer needs far fewer",
                     "C": "Transfer costs more, because pretrained models are bigger",
                     "D": "Spot instances make from scratch cheaper than transfer"},
            answer="B",
            explanation=("Cost = seconds x hourly rate, so the ratio of compute is the ratio "
                         "of cost at any rate. Measured: transfer {transfer_seconds:.1f} s, "
                         "from scratch with search {scratch_seconds:.0f} s."),
            why_wrong={"A": ("Per-second billing charges the seconds you use: "
                             "{scratch_seconds:.0f} s against {transfer_seconds:.1f} s."),
                       "C": ("Both options use the same architecture here; from scratch "
                             "trains all of it, many times."),
                       "D": "Spot lowers the rate for both options alike."}),
        "jumpstart": Question(
            prompt=("Which SageMaker feature offers pretrained models, including image "
                    "classifiers, that you fine-tune on your own labelled data with little "
                    "code?"),
            options={"A": "SageMaker JumpStart",
                     "B": "SageMaker Ground Truth",
                     "C": "SageMaker Model Monitor",
                     "D": "Amazon Lex"},
            answer="A",
            explanation=("JumpStart fine-tunes pretrained models on custom data sets; the "
                         "successor exam's guide (MLA-C01, task 2.2) names it. The course does "
                         "not run it: it needs an AWS account."),
            why_wrong={"B": "Ground Truth labels data; it does not fine-tune models.",
                       "C": "Model Monitor watches deployed models for drift.",
                       "D": "Lex builds chatbots."}),
    }
