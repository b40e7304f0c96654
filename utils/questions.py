"""Every exam-style question of the course, in one place.

Each function returns a :class:`~utils.quiz.Question` whose explanation cites the numbers the
learner measured (its ``{placeholders}`` are filled from a chapter's evidence).
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
    """Exam question for chapter 03: how to initialise for the cat breeds (answer: C)."""
    return Question(
        prompt=("You build a cat-breed classifier on a network pretrained on ImageNet. How "
                "should you initialise its weights?"),
        options={
            "A": "All layers random: retrain from scratch.",
            "B": "Pretrained weights in all layers, the output layer included.",
            "C": "Pretrained weights in all layers except the output layer, which is random.",
            "D": "Random weights everywhere except a pretrained output layer.",
        },
        answer="C",
        explanation=(
            "The body's pretrained features are what transfers; the output layer is "
            "specific to ImageNet's 1000 classes and must be replaced by one with a unit per "
            "breed. Measured here: C {acc_C:.0%}, A {acc_A:.0%}, B (reused ImageNet rows) "
            "{acc_B:.0%}, D {acc_D:.0%}."),
        why_wrong={
            "A": "From scratch throws away the useful features: {acc_A:.0%} against "
                 "{acc_C:.0%} for C at the same budget.",
            "B": ("The pretrained output layer has 1000 units, not one per breed: it does not "
                  "even fit. Reusing some of its rows ran, reaching {acc_B:.0%} "
                  "(C: {acc_C:.0%}), but needs a class-to-ImageNet mapping that most tasks "
                  "do not have."),
            "D": ("A pretrained output layer reads pretrained features; on a random body its "
                  "weights are meaningless: {acc_D:.0%}."),
        },
    )


def flower_exam_question():
    """The flower-species exam question (answer: D). Evidence keys: ``transfer_acc``,
    ``transfer_seconds``, ``scratch_acc``, ``scratch_seconds``."""
    return Question(
        prompt=("An organisation has a CNN that detects flowers in photos. It now needs to "
                "classify flower species, quickly and at low cost. What should it do?"),
        options={"A": "Use Amazon Lex to classify the species",
                 "B": "Deploy the existing model to AWS DeepLens",
                 "C": "Retrain a new model from scratch with the SageMaker built-in image "
                      "classification algorithm and hyperparameter optimisation",
                 "D": "Keep the existing CNN's feature layers, replace the output layer with a "
                      "species layer, and train it (transfer learning)"},
        answer="D",
        explanation=("Measured: transfer reached {transfer_acc:.0%} species accuracy in "
                     "{transfer_seconds:.1f} s; scratch + HPO reached {scratch_acc:.0%} in "
                     "{scratch_seconds:.0f} s."),
        why_wrong={"A": "Lex is a conversational (chatbot) service; it does not classify "
                        "images.",
                   "B": "DeepLens was an edge camera (retired by AWS); deploying somewhere "
                        "does not train a species classifier.",
                   "C": "The flaw is 'from scratch' (the built-in algorithm itself can do "
                        "transfer learning with use_pretrained_model): it discards the learned "
                        "features and costs far more compute for lower accuracy."},
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
                   "C": "On demand costs more than spot, and an idle endpoint bills every "
                        "hour it exists.",
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
                     "B": "Their running mean and variance are overwritten by the new data's "
                          "statistics, silently changing the 'frozen' body",
                     "C": "Their weights receive gradient updates",
                     "D": "Training raises an error"},
            answer="B",
            explanation=("requires_grad stops gradient updates but not the running-statistics "
                         "update in train mode; keep frozen BatchNorm layers in eval mode "
                         "(chapter 02 measures the effect)."),
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
            prompt=("A SageMaker training job runs for hours and may be interrupted. How do you "
                    "cut its cost the most?"),
            options={"A": "Managed spot training (use_spot_instances=True, max_wait) with "
                          "checkpoints saved to checkpoint_s3_uri",
                     "B": "A bigger on-demand instance",
                     "C": "A real-time endpoint",
                     "D": "Turn off checkpoints"},
            answer="A",
            explanation=("AWS states managed spot training saves up to 90% over on-demand; "
                         "checkpoints let an interrupted job resume (chapters 05 and 06)."),
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
                         "batch transform scores whole data sets offline (chapter 06)."),
            why_wrong={"A": "Nightly batches cannot answer within a second.",
                       "C": "A training job takes minutes to start and trains; it does not "
                            "serve.",
                       "D": "DeepLens was an edge camera, retired by AWS."}),
    }

